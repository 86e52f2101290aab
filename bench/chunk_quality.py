"""Other chunk settings against the defaults on a SciFact sub-corpus: dense and hybrid nDCG@10, and tokens embedded.

    .venv/bin/python bench/chunk_quality.py --seed-cache index-eval/scifact --other-docs 700 \
        --candidate overlap_tokens=0 --candidate overlap_tokens=20
    .venv/bin/python bench/chunk_quality.py --model hashing-64 --other-docs 50 --candidate overlap_tokens=0  # smoke

Every judged document and a seeded sample of ``--other-docs`` others (as bench/int8_quality.py draws them) are
written as a BEIR folder and indexed by ``build_index`` once with the default ``ChunkSettings`` and once per
``--candidate`` (``field=value,...``), each into its own index folder whose embedding cache starts as a copy of
``--seed-cache``'s (an index of SciFact built with the defaults holds every default chunk's vector, so only the
texts a candidate changes are embedded). Each index is searched as ``qa eval`` does (``run_mode``), dense and
hybrid; the tokens the model read (special tokens included) are counted from the index's own chunks. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import scifact  # noqa: E402
from bench.common import load_average  # noqa: E402


def sub_corpus(folder: Path, other_docs: int) -> Path:
    """A BEIR folder: the judged SciFact documents and a seeded sample of the others, with the test claims."""
    lines = scifact.corpus_lines()
    ids = [str(json.loads(line)["_id"]) for line in lines]
    judged = {doc for rel in scifact.qrels().values() for doc in rel}
    others = [i for i, doc in enumerate(ids) if doc not in judged]
    keep = {i for i, doc in enumerate(ids) if doc in judged}
    keep |= set(np.random.default_rng(0).choice(others, other_docs, replace=False).tolist())
    scifact.write_corpus(folder, [lines[i] for i in sorted(keep)])
    for name in ("queries.jsonl", "qrels.tsv"):
        shutil.copyfile(scifact.DATA / name, folder / name)
    return folder


def parse_candidate(text: str) -> dict[str, int]:
    """``"overlap_tokens=0,title_tokens=24"`` -> ``{"overlap_tokens": 0, "title_tokens": 24}``."""
    return {key.strip(): int(value) for key, value in (part.split("=", 1) for part in text.split(","))}


def measure(dataset_dir: Path, index_dir: Path, seed_cache: Path | None, chunk, embedder) -> dict[str, object]:
    """Build one index with ``chunk`` settings, then nDCG@10 dense and hybrid and the tokens its chunks cost."""
    from qa import Assistant, build_index
    from qa.evaluation.evaluate import load_dataset, run_mode
    from qa.index import store
    from qa.ingest.chunking import chunks_to_embed
    from qa.settings import DEFAULT

    if seed_cache is not None:
        (index_dir / "cache").mkdir(parents=True)
        shutil.copyfile(seed_cache / "cache" / "embeddings.sqlite", index_dir / "cache" / "embeddings.sqlite")
    dataset = load_dataset(dataset_dir)
    report = build_index(dataset.corpus, index_dir, embedder, settings=replace(DEFAULT, chunk=chunk), progress=False)
    texts = [text for doc in store.load(index_dir).documents
             for _, text in chunks_to_embed(doc, embedder.token_spans, chunk)]
    assistant = Assistant.load(index_dir, embedder=embedder)
    ndcg = {mode: round(run_mode(assistant, dataset, mode, 100, progress=False)[0].metrics["ndcg@10"], 4)
            for mode in ("dense", "hybrid")}
    return {"settings": chunk.to_dict(), "chunks": report.chunks, "chunks_embedded": report.chunks_embedded,
            "tokens": sum(min(len(embedder.token_spans(t)) + 2, embedder.max_tokens) for t in texts),
            "ndcg_at_10": ndcg, "load_average": load_average()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed-cache", type=Path, help="a SciFact index built with the defaults (its cache is copied)")
    parser.add_argument("--other-docs", type=int, default=700)
    parser.add_argument("--candidate", action="append", default=[], help="field=value,... of ChunkSettings")
    parser.add_argument("--variant", default="auto")
    parser.add_argument("--model", help="another embedding model, e.g. hashing-64 for a smoke run")
    args = parser.parse_args(argv)
    from qa.embed.embedders import embedder_for
    from qa.settings import ChunkSettings

    embedder = embedder_for(args.model, variant=args.variant, device="cpu")
    settings = [ChunkSettings(), *(ChunkSettings(**parse_candidate(c)) for c in args.candidate)]
    results = []
    with tempfile.TemporaryDirectory(prefix="qa-chunk-quality-") as tmp:
        dataset_dir = sub_corpus(Path(tmp) / "scifact-sub", args.other_docs)
        for n, chunk in enumerate(settings):
            results.append(measure(dataset_dir, Path(tmp) / f"index-{n}", args.seed_cache, chunk, embedder))
            print(json.dumps(results[-1]), flush=True)
    print(json.dumps({"variant": embedder.variant, "other_docs": args.other_docs, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
