"""The int8 variant's quality on SciFact, against an fp32 index: every chunk's cosine, and dense nDCG@10.

    .venv/bin/python bench/int8_quality.py --reference index-eval/scifact [--variant openvino-int8]

``--reference`` is a SciFact index built in fp32 (openvino-fp32 or torch-fp32: the same vectors to within
rounding), read only. Every one of its chunks is embedded again, as the build embeds it, with ``--variant``, and
compared row by row with the reference vectors; then the 300 test claims are embedded with each variant and searched
exactly (inner product over every chunk, a document scored by its best chunk) in each set of vectors: the same
search for both, so the difference is the variant's alone. Prints JSON; about 25 minutes on 2 cores, or a
sub-corpus with ``--other-docs`` (every judged document and a seeded sample of the others) when time is short.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import scifact  # noqa: E402
from bench.common import load_average  # noqa: E402


def chunk_texts(index) -> list[str]:
    """What the model read for each chunk of ``index`` (qa.ingest.chunking.embedding_text), in row order."""
    from qa.embed.embedders import SentenceTransformerEmbedder
    from qa.ingest.chunking import embedding_text
    from qa.records import Chunk
    from qa.settings import ChunkSettings

    spans = SentenceTransformerEmbedder(variant="torch-fp32", device="cpu").token_spans
    settings = ChunkSettings(**index.manifest.chunking)
    texts = []
    for row, (d, start, end) in enumerate(zip(index.chunks.doc, index.chunks.start, index.chunks.end, strict=True)):
        doc = index.documents[d]
        chunk = Chunk(str(row), doc.doc_id, row, int(start), int(end), doc.text[int(start):int(end)])
        texts.append(embedding_text(doc, chunk, spans, settings))
    return texts


def dense_run(vectors: np.ndarray, queries: np.ndarray, doc_of_row: np.ndarray, doc_ids: list[str],
              qids: list[str]) -> dict[str, dict[str, float]]:
    """Top 10 documents per query by their best chunk's inner product (exact)."""
    run = {}
    for qid, q in zip(qids, queries, strict=True):
        scores = vectors @ q
        best = np.full(len(doc_ids), -np.inf, dtype=np.float32)
        np.maximum.at(best, doc_of_row, scores)
        top = np.argsort(-best, kind="stable")[:10]
        run[qid] = {doc_ids[i].removeprefix(scifact.PREFIX): float(best[i]) for i in top}
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reference", type=Path, required=True, help="a SciFact index embedded in fp32")
    parser.add_argument("--variant", default="openvino-int8")
    parser.add_argument("--limit", type=int, help="only the first N chunks' cosines (a smoke run)")
    parser.add_argument("--other-docs", type=int,
                        help="search a sub-corpus: every judged document and this many others (seeded sample), "
                             "for both variants alike; default: the whole corpus")
    args = parser.parse_args(argv)

    from qa.embed.embedders import SentenceTransformerEmbedder
    from qa.index import store

    ref = store.load(args.reference, with_vectors=True)
    rows = np.arange(len(ref.chunks.doc))
    if args.other_docs is not None:
        judged = {doc for rel in scifact.qrels().values() for doc in rel}
        ids = [d.doc_id.removeprefix(scifact.PREFIX) for d in ref.documents]
        others = [i for i, doc in enumerate(ids) if doc not in judged]
        keep = {i for i, doc in enumerate(ids) if doc in judged}
        keep |= set(np.random.default_rng(0).choice(others, args.other_docs, replace=False).tolist())
        rows = np.flatnonzero(np.isin(ref.chunks.doc, sorted(keep)))
    rows = rows[:args.limit]
    reference = np.asarray(ref.vectors, dtype=np.float32)[rows]
    all_texts = chunk_texts(ref)
    texts = [all_texts[i] for i in rows]
    variant = SentenceTransformerEmbedder(variant=args.variant, device="cpu")
    fp32 = SentenceTransformerEmbedder(variant="openvino-fp32", device="cpu")
    load_start = load_average()
    variant.prepare()
    started = time.perf_counter()
    vectors = variant.embed(texts)
    seconds = time.perf_counter() - started
    cosine = (vectors * reference).sum(axis=1)
    result = {"variant": args.variant, "fingerprint": variant.fingerprint, "chunks": len(texts),
              "documents": len(set(ref.chunks.doc[rows].tolist())),
              "cosine_vs_fp32": {"min": round(float(cosine.min()), 5), "mean": round(float(cosine.mean()), 5),
                                 "p01": round(float(np.quantile(cosine, 0.01)), 5)},
              "embed_seconds": round(seconds, 1), "load_average": [load_start, load_average()]}
    if args.limit is None:
        doc_of_row = ref.chunks.doc[rows]
        qids, questions = zip(*scifact.queries(), strict=True)
        doc_ids = [d.doc_id for d in ref.documents]
        runs = {"fp32 index, fp32 queries": (reference, fp32.embed(list(questions))),
                f"{args.variant} index, {args.variant} queries": (vectors, variant.embed(list(questions)))}
        result["ndcg_at_10"] = {name: round(scifact.ndcg_at_10(dense_run(v, q, doc_of_row, doc_ids,
                                                                          list(qids))), 4)
                                for name, (v, q) in runs.items()}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
