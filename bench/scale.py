"""Scale sections: dense search at 100k and 1M chunks, exact against ANN, and the whole assistant at scale.

The vectors are synthetic (``bench.synthetic``), built from the real SciFact chunk vectors; the queries are the
real SciFact claims, embedded by the index's own variant. For the whole-assistant figures the SciFact documents are
repeated under new ids until the index holds the requested number of chunks, so BM25 has real text to score.
"""

from __future__ import annotations

import math
import shutil
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench import scifact
from bench.common import pct
from bench.measure import rss_mb
from bench.synthetic import synthetic_vectors


def real_and_queries(index: Path) -> tuple[np.ndarray, np.ndarray]:
    """The SciFact chunk vectors and the claims embedded as the index's queries are."""
    from qa.embed.embedders import query_embedder
    from qa.index import store

    data = store.load(index, with_vectors=True)
    embedder = query_embedder(data.manifest.model, index / "cache")
    return np.array(data.vectors), embedder.embed([text for _, text in scifact.queries()])


def _search_ms(index, queries: np.ndarray, threads: int) -> tuple[np.ndarray, np.ndarray]:
    import faiss

    faiss.omp_set_num_threads(threads)
    for q in queries[:20]:
        index.search(q[None], 10)
    times, rows = [], []
    for q in queries:
        started = time.perf_counter()
        _, found = index.search(q[None], 10)
        times.append((time.perf_counter() - started) * 1000)
        rows.append(found[0])
    return np.array(times), np.array(rows)


def dense(work: Path, sizes: list[int], kinds: list[str]) -> dict:
    """Per size: exact search, then each ANN kind (build time, memory, p50/p95 with 1 and 2 threads, recall@10)."""
    import faiss

    from qa.index import vector_index

    real, queries = real_and_queries(work / "scifact-index")
    out: dict = {"queries": len(queries), "omp_max_threads": faiss.omp_get_max_threads()}
    for n in sizes:
        vectors = synthetic_vectors(real, n)
        figures: dict = {}
        # the reference: exact, fp32
        exact_index = vector_index.build(vectors, vector_index.IndexSpec("flat", storage="fp32"))
        faiss.omp_set_num_threads(faiss.omp_get_max_threads())
        _, exact = exact_index.search(queries, 10)
        figures["exact"] = {f"threads_{t}": pct(_search_ms(exact_index, queries, t)[0]) for t in (1, 2)}
        del exact_index
        for kind in kinds:
            spec = vector_index.choose_spec(n, kind)
            faiss.omp_set_num_threads(2)
            before, started = rss_mb(), time.perf_counter()
            index = vector_index.build(vectors, spec)
            entry: dict = {"spec": spec.to_dict(), "build_s": round(time.perf_counter() - started, 1),
                           "rss_growth_mb": round(rss_mb() - before), "vectors_mb": round(vectors.nbytes / 2**20)}
            for threads in (1, 2):
                ms, rows = _search_ms(index, queries, threads)
                recall = round(vector_index.recall_at_k(rows, exact), 4)
                entry[f"threads_{threads}"] = {**pct(ms), "recall_at_10": recall}
            entry["sweep"] = _sweep(index, spec, queries, exact)
            figures[kind] = entry
            del index
        out[str(n)] = figures
    faiss.omp_set_num_threads(faiss.omp_get_max_threads())
    return out


SWEEP = {"hnsw": ("ef_search", (256, 512, 2048)), "ivf": ("nprobe", (16, 32, 128))}


def _sweep(index, spec, queries: np.ndarray, exact: np.ndarray) -> dict:
    """The search-time breadth around the default (``efSearch`` / ``nprobe``): p50 with 1 thread and recall@10."""
    from qa.index import vector_index

    if spec.kind not in SWEEP:
        return {}
    name, values = SWEEP[spec.kind]
    out = {}
    for value in values:
        vector_index.configure(index, replace(spec, **{name: value}))
        ms, rows = _search_ms(index, queries, 1)
        recall = round(vector_index.recall_at_k(rows, exact), 4)
        out[f"{name}={value}"] = {"p50_ms": pct(ms)["p50_ms"], "recall_at_10": recall}
    vector_index.configure(index, spec)
    return out


def synthetic_arrays(source: Path, chunks: int) -> tuple:
    """SciFact's generation in ``source`` and about ``chunks`` rows made from it: its documents repeated under new
    ids, their chunk table, synthetic vectors, and the texts BM25 reads (repeated over the rows)."""
    from qa.index import lexical, store

    data = store.load(source, with_vectors=True)
    n_docs, n_chunks = len(data.documents), len(data.chunks)
    copies = math.ceil(chunks / n_chunks)
    documents = [replace(d, doc_id=f"{d.doc_id}~{c}") for c in range(copies) for d in data.documents]
    table = store.ChunkTable(
        np.concatenate([data.chunks.doc + c * n_docs for c in range(copies)]).astype(np.int32),
        np.tile(data.chunks.start, copies), np.tile(data.chunks.end, copies))
    vectors = synthetic_vectors(np.asarray(data.vectors), len(table))
    return data, documents, table, vectors, lexical.lexical_texts(data.documents, data.chunks)


def synthetic_index(source: Path, target: Path, chunks: int, kind: str = "auto") -> dict:
    """An index of about ``chunks`` chunks: SciFact's documents repeated under new ids, synthetic vectors."""
    from qa.index import calibration, lexical, store, vector_index
    from qa.settings import DEFAULT

    data, documents, table, vectors, texts = synthetic_arrays(source, chunks)
    started = time.perf_counter()
    spec = vector_index.choose_spec(len(vectors), kind)
    faiss_index = vector_index.build(vectors, spec)
    ann_s = time.perf_counter() - started
    search_files = (lexical.repeated_index_files(texts, len(table), DEFAULT.lexical)
                    | calibration.index_files(vectors))
    bm25_s = time.perf_counter() - started - ann_s
    store.write_from_arrays(target, data, documents=documents, chunks=table, vectors=vectors,
                            faiss_index=faiss_index, spec=spec, requested=kind, extra_files=search_files)
    copy_model(source, target)
    return {"chunks": len(table), "documents": len(documents), "index": spec.to_dict(),
            "ann_build_s": round(ann_s, 1), "bm25_build_s": round(bm25_s, 1),
            "write_s": round(time.perf_counter() - started - ann_s - bm25_s, 1)}


def copy_model(source: Path, target: Path) -> None:
    """The exported model of ``source``'s cache, so that queries over ``target`` do not export it again."""
    if (source / "cache" / "models").is_dir():
        shutil.copytree(source / "cache" / "models", target / "cache" / "models", dirs_exist_ok=True)
