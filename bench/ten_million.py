"""A 10M-chunk simulation: synthetic vectors compressed with IVF-PQ, recall@10 against exact search on a sample of
questions, and search latency (run through ``bench/shards.py --ten-million``).

Ten million 384-dimension vectors are 15 GB as float32, 7.7 GB as qa's fp16 storage: more than this machine's
24 GiB can hold beside everything else. Product quantisation keeps 48 bytes a vector (plus an 8-byte id), about
0.56 GB. The vectors are made and added block by block (``bench.synthetic``), never all held at once; the exact
reference is computed in the same pass (every block scored against the sample of questions, the top 10 kept), so
each vector is made once. The coarse quantiser is an HNSW graph over the bucket centroids: assigning ten million
vectors to 4,096 buckets by brute force would cost 30 TFLOP on two cores.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from bench.common import load_average, pct
from bench.measure import rss_mb
from bench.synthetic import synthetic_block

# PQ48 alone: 48 B a vector. With ",Refine(SQ8)" (bench/shards.py --factory), the PQ shortlist (k_factor x 10) is
# re-scored from 8-bit copies of the vectors (384 B more a vector, 3.8 GB at 10M): measured, PQ48 alone found a
# third of the exact top 10.
FACTORY = "IVF4096_HNSW32,PQ48"
BLOCK = 500_000
TRAIN = 131_072


def _top10(scores: np.ndarray, ids: np.ndarray, best: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The running top 10 per question, after one block's scores (questions x block)."""
    keep = np.argpartition(-scores, 9, axis=1)[:, :10]
    all_scores = np.concatenate([best[0], np.take_along_axis(scores, keep, axis=1)], axis=1)
    all_ids = np.concatenate([best[1], ids[keep]], axis=1)
    order = np.argsort(-all_scores, axis=1)[:, :10]
    return np.take_along_axis(all_scores, order, axis=1), np.take_along_axis(all_ids, order, axis=1)


def build(real: np.ndarray, queries: np.ndarray, n: int,
          factory: str = FACTORY) -> tuple[object, np.ndarray, dict]:
    """The IVF-PQ index over ``n`` synthetic vectors, the exact top 10 of each question, and the build figures."""
    import faiss

    rng = np.random.default_rng(0)
    index = faiss.index_factory(real.shape[1], factory, faiss.METRIC_INNER_PRODUCT)
    before, started = rss_mb(), time.perf_counter()
    index.train(synthetic_block(real, TRAIN, rng))
    trained = time.perf_counter()
    best = (np.full((len(queries), 10), -np.inf, np.float32), np.full((len(queries), 10), -1, np.int64))
    exact_s = 0.0
    for start in range(0, n, BLOCK):
        block = synthetic_block(real, min(BLOCK, n - start), rng)
        index.add(block)
        tick = time.perf_counter()
        best = _top10(queries @ block.T, np.arange(start, start + len(block)), best)
        exact_s += time.perf_counter() - tick
    figures = {"factory": factory, "vectors": n, "train_s": round(trained - started, 1),
               "add_s": round(time.perf_counter() - trained - exact_s, 1), "exact_reference_s": round(exact_s, 1),
               "index_mb": round(index.sa_code_size() * n / 2**20), "rss_growth_mb": round(rss_mb() - before)}
    return index, best[1], figures


def search(index, queries: np.ndarray, exact: np.ndarray, nprobe: int, k_factor: int = 1) -> dict:
    """p50/p95 with one FAISS thread and recall@10 against ``exact``, at ``nprobe`` buckets (and, for a refined
    index, ``k_factor`` x 10 PQ candidates re-scored)."""
    import faiss

    from qa.index import vector_index

    faiss.omp_set_num_threads(1)
    faiss.extract_index_ivf(index).nprobe = nprobe
    if isinstance(faiss.downcast_index(index), faiss.IndexRefine):
        faiss.downcast_index(index).k_factor = k_factor
    for q in queries[:10]:
        index.search(q[None], 10)
    times, rows = [], []
    for q in queries:
        started = time.perf_counter()
        _, found = index.search(q[None], 10)
        times.append((time.perf_counter() - started) * 1000)
        rows.append(found[0])
    return {**pct(np.array(times)), "recall_at_10": round(vector_index.recall_at_k(np.array(rows), exact), 4),
            "load": load_average()}


def simulate(source: Path, n: int, sample: int = 100, factory: str = FACTORY) -> dict:
    """The whole simulation over ``n`` vectors seeded by the SciFact index ``source``, ``sample`` real claims."""
    from bench import scale

    real, queries = scale.real_and_queries(source)
    queries = np.ascontiguousarray(queries[:sample], dtype=np.float32)
    index, exact, figures = build(real, queries, n, factory)
    figures["questions"] = len(queries)
    k_factors = (10, 40) if "Refine" in factory else (1,)
    figures["search"] = {f"nprobe={p}" + (f",k_factor={f}" if f > 1 else ""): search(index, queries, exact, p, f)
                         for p in (16, 64, 256) for f in k_factors}
    return {"ten_million": figures}
