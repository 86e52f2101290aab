"""Answer-sentence accuracy on SQuAD v1.1 dev: how often the answer sentence contains a gold answer.

    .venv/bin/python bench/answers.py                 # all 10,570 questions, default retrieval mode
    .venv/bin/python bench/answers.py --mode dense --limit 500

Builds the SQuAD index once (``--index``, default /work/cache/answers-squad-index; ~2,100 passages) and reuses
it, asks every question through ``Assistant.ask`` (retrieval + selection, end to end) and prints:

- accuracy over all questions, over the tuning half (questions of even-numbered articles, the only ones
  ``bench/fit_answers.py`` learns from) and over the held-out half (odd-numbered articles);
- oracle accuracy: selection from the gold paragraph alone, as if retrieval were perfect;
- the latency selection adds to ``ask`` (p50/p95) and the whole ``ask`` latency.

A sentence "contains" a gold answer when, both normalised as SQuAD's official evaluation does (lower case, no
punctuation, no articles, single spaces), the answer occurs in the sentence on word boundaries.
Results go to ``bench/results/answers-<mode>.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa import answer as answer_mod  # noqa: E402
from qa.assistant import Assistant  # noqa: E402
from qa.build import build_index  # noqa: E402
from qa.embedding import SentenceTransformerEmbedder  # noqa: E402
from qa.metrics import contains_answer  # noqa: E402
from qa.records import Document, Passage  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data" / "squad-v1.1-dev"
DEFAULT_INDEX = Path("/work/cache/answers-squad-index")


def load_questions(data: Path) -> list[dict]:
    """``{"id", "text", "doc", "article", "answers"}`` per question, in file order."""
    gold = {}
    with (data / "qrels.tsv").open() as handle:
        next(handle)
        for line in handle:
            qid, doc, _ = line.rstrip("\n").split("\t")
            gold[qid] = doc
    answers = {r["_id"]: r["answers_all"] for r in map(json.loads, (data / "answers.jsonl").open())}
    questions = []
    for record in map(json.loads, (data / "queries.jsonl").open()):
        doc = gold[record["_id"]]
        questions.append({"id": record["_id"], "text": record["text"], "doc": doc,
                          "article": int(doc.split("_")[0]), "answers": answers[record["_id"]]})
    return questions


def oracle_passage(doc: Document) -> Passage:
    """The whole gold paragraph as the only passage."""
    return Passage(rank=1, score=1.0, source=doc.source, title=doc.title, publisher=doc.publisher, date=doc.date,
                   path=doc.path, doc_id=doc.doc_id, chunk_id=doc.doc_id, start=0, end=len(doc.text), page=None,
                   section=None, text=doc.text)


class CachedEmbed:
    """Sentence vectors computed once per text (the oracle and the fit score each sentence many times)."""

    def __init__(self, embedder: SentenceTransformerEmbedder):
        self.embedder = embedder
        self.vectors: dict[str, np.ndarray] = {}

    def prefetch(self, texts: list[str]) -> None:
        missing = sorted({t for t in texts if t not in self.vectors}, key=len)
        for text, vector in zip(missing, self.embedder.embed(missing, batch_size=64), strict=True):
            self.vectors[text] = vector

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.prefetch(texts)
        return np.stack([self.vectors[t] for t in texts])


def percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2) if values else 0.0


def accuracy(flags: list[bool]) -> float:
    return round(sum(flags) / len(flags), 4) if flags else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=DEFAULT_INDEX)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--mode", default=None, help="retrieval mode (default: the Assistant's default)")
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--limit", type=int, default=0, help="only the first N questions (0: all)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    embedder = SentenceTransformerEmbedder(device="cpu")
    report = build_index(args.data / "corpus.jsonl", args.index, embedder, progress=True)
    print(f"index: {report.documents} paragraphs, {report.chunks} chunks ({report.chunks_embedded} embedded now)")
    assistant = Assistant.load(args.index, embedder=embedder)
    questions = load_questions(args.data)
    if args.limit:
        questions = questions[: args.limit]
    ask_options = {"mode": args.mode} if args.mode else {}

    from tqdm import tqdm

    assistant.ask(questions[0]["text"], k=args.k, **ask_options)  # warm-up: model load, first-call costs
    rows = []
    for q in tqdm(questions, desc="asking", unit="q"):
        result = assistant.ask(q["text"], k=args.k, **ask_options)
        found = result.answer
        rows.append({
            "id": q["id"], "article": q["article"], "question": q["text"],
            "correct": bool(found and contains_answer(found.text, q["answers"])),
            "answer": found.text if found else None, "answer_doc": found.doc_id if found else None,
            "gold_doc": q["doc"], "gold_first": result.passages[0].doc_id.endswith("#" + q["doc"]),
            "select_ms": result.timings_ms.get("answer", 0.0), "ask_ms": sum(result.timings_ms.values()),
            "passages": result.passages,
        })

    cached = CachedEmbed(embedder)
    vectors = embedder.embed([q["text"] for q in questions], batch_size=64)
    paragraphs = {d.external_id: d for d in assistant.data.documents}
    oracle = []
    for q, vector in zip(tqdm(questions, desc="oracle", unit="q"), vectors, strict=True):
        passage = oracle_passage(paragraphs[q["doc"]])
        found, _ = answer_mod.pick_answer(q["text"], [passage], query_vector=vector, embed=cached)
        oracle.append(bool(found and contains_answer(found.text, q["answers"])))

    mode = result.mode
    correct = [r["correct"] for r in rows]
    summary = {
        "dataset": "squad-v1.1-dev", "mode": mode, "k": args.k, "questions": len(rows),
        "accuracy": accuracy(correct),
        "accuracy_tuning_half_even_articles": accuracy([r["correct"] for r in rows if r["article"] % 2 == 0]),
        "accuracy_held_out_odd_articles": accuracy([r["correct"] for r in rows if r["article"] % 2 == 1]),
        "oracle_accuracy": accuracy(oracle),
        "oracle_accuracy_held_out_odd_articles": accuracy(
            [o for o, r in zip(oracle, rows, strict=True) if r["article"] % 2 == 1]),
        "no_answer": sum(r["answer"] is None for r in rows),
        "gold_paragraph_first": accuracy([r["gold_first"] for r in rows]),
        "select_ms": {"p50": percentile([r["select_ms"] for r in rows], 50),
                      "p95": percentile([r["select_ms"] for r in rows], 95)},
        "ask_ms": {"p50": percentile([r["ask_ms"] for r in rows], 50),
                   "p95": percentile([r["ask_ms"] for r in rows], 95)},
        "command": "python bench/answers.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    print(json.dumps(summary, indent=2))
    out = args.out or REPO / "bench" / "results" / f"answers-{mode}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    details = [{k: v for k, v in r.items() if k != "passages"} for r in rows]
    out.write_text(json.dumps({"summary": summary, "questions": details}, indent=1, ensure_ascii=False))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
