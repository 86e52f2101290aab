"""SciFact for the benchmarks: the corpus (or a slice of it), the test claims, the judgements, nDCG@10."""

from __future__ import annotations

import json
from pathlib import Path

from bench import common

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data" / "scifact"
PREFIX = "corpus.jsonl#"  # doc_id of a record in a single-file .jsonl corpus named corpus.jsonl


def corpus_lines() -> list[str]:
    return [line for line in (DATA / "corpus.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]


def write_corpus(folder: Path, lines: list[str]) -> Path:
    """``folder/corpus.jsonl`` holding ``lines``: document ids match those of an index of the real file."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "corpus.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def queries() -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in (DATA / "queries.jsonl").read_text().splitlines() if line.strip()]
    judged = qrels()
    return [(str(r["_id"]), r["text"]) for r in rows if str(r["_id"]) in judged]


def qrels() -> dict[str, dict[str, int]]:
    """The test split's judgements."""
    return common.read_qrels(DATA / "qrels.tsv")


def ndcg_at_10(run: dict[str, dict[str, float]]) -> float:
    """Mean nDCG@10 over the judged test claims, as ``qa eval`` computes it (trec_eval's, via pytrec_eval)."""
    return common.ndcg_at_10(run, qrels())
