"""Answer-sentence accuracy on SQuAD v1.1 dev: how often the answer sentence contains a gold answer.

    .venv/bin/python bench/answers.py                 # all 10,570 questions, default retrieval mode
    .venv/bin/python bench/answers.py --mode dense --limit 500

Builds the SQuAD index once (``--index``, default index-eval/squad-v1.1-dev; ~2,100 passages) and reuses
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
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a file: the repository's bench and qa

from bench.common import EVEN, ODD, percentiles, read_qrels, squad_article, squad_half  # noqa: E402
from qa.answer import selection as answer_mod  # noqa: E402
from qa.assistant import Assistant, document_passage  # noqa: E402
from qa.embed.embedders import SentenceTransformerEmbedder  # noqa: E402
from qa.evaluation.metrics import contains_answer  # noqa: E402
from qa.index.build import build_index  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data" / "squad-v1.1-dev"
DEFAULT_INDEX = Path("index-eval/squad-v1.1-dev")  # the folder `qa eval` uses for the same data


def load_questions(data: Path) -> list[dict]:
    """``{"id", "text", "doc", "article", "answers"}`` per question, in file order."""
    gold = {qid: next(iter(rels)) for qid, rels in read_qrels(data / "qrels.tsv").items()}  # one paragraph each
    answers = {r["_id"]: r["answers_all"] for r in map(json.loads, (data / "answers.jsonl").open())}
    questions = []
    for record in map(json.loads, (data / "queries.jsonl").open()):
        doc = gold[record["_id"]]
        questions.append({"id": record["_id"], "text": record["text"], "doc": doc,
                          "article": squad_article(doc), "answers": answers[record["_id"]]})
    return questions


def accuracy(flags: list[bool]) -> float:
    return round(sum(flags) / len(flags), 4) if flags else 0.0


def ask_all(assistant: Assistant, questions: list[dict], k: int, options: dict) -> list[dict]:
    """Every question through ``Assistant.ask``: retrieval and selection, as `qa ask` runs them."""
    from tqdm import tqdm

    assistant.ask(questions[0]["text"], k=k, **options)  # warm-up: first-call costs are not a question's
    rows = []
    for q in tqdm(questions, desc="asking", unit="q"):
        started = time.perf_counter()
        result = assistant.ask(q["text"], k=k, **options)
        ask_ms = (time.perf_counter() - started) * 1000
        found = result.answer
        docs = [p.doc_id.rsplit("#", 1)[-1] for p in result.passages]
        rows.append({
            "id": q["id"], "article": q["article"], "question": q["text"], "mode": result.mode,
            "correct": bool(found and contains_answer(found.text, q["answers"])),
            "answer": found.text if found else None, "score": found.score if found else None,
            "answer_doc": found.doc_id.rsplit("#", 1)[-1] if found else None, "gold_doc": q["doc"],
            "gold_first": docs[:1] == [q["doc"]], "gold_in_top_k": q["doc"] in docs,
            "select_ms": round(result.timings_ms.get("answer", 0.0), 3), "ask_ms": round(ask_ms, 3),
        })
    return rows


def oracle_all(assistant: Assistant, questions: list[dict]) -> list[bool]:
    """Selection alone: each question's gold paragraph as the only passage."""
    from tqdm import tqdm

    paragraphs = {d.external_id: d for d in assistant.data.documents}
    hits = []
    for q in tqdm(questions, desc="oracle", unit="q"):
        found, _ = answer_mod.pick_answer(q["text"], [document_passage(paragraphs[q["doc"]])])
        hits.append(bool(found and contains_answer(found.text, q["answers"])))
    return hits


def summarise(rows: list[dict], oracle: list[bool], k: int) -> dict:
    def part(flags: list[bool], half: str | None) -> float:
        kept = [f for f, r in zip(flags, rows, strict=True) if half is None or squad_half(r["gold_doc"]) == half]
        return accuracy(kept)

    correct = [r["correct"] for r in rows]
    return {
        "dataset": "squad-v1.1-dev", "mode": rows[0]["mode"], "k": k, "questions": len(rows),
        "accuracy": part(correct, None),
        "accuracy_tuning_even_articles": part(correct, EVEN),
        "accuracy_held_out_odd_articles": part(correct, ODD),
        "oracle_accuracy": part(oracle, None),
        "oracle_tuning_even_articles": part(oracle, EVEN),
        "oracle_held_out_odd_articles": part(oracle, ODD),
        "no_answer": sum(r["answer"] is None for r in rows),
        "gold_paragraph_first": accuracy([r["gold_first"] for r in rows]),
        "gold_paragraph_in_top_k": accuracy([r["gold_in_top_k"] for r in rows]),
        "select_ms": percentiles([r["select_ms"] for r in rows]),
        "ask_ms": percentiles([r["ask_ms"] for r in rows]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=DEFAULT_INDEX)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--mode", default=None, help="dense, lexical or hybrid (default: the Assistant's default)")
    parser.add_argument("-k", type=int, default=5, help="passages per question (default: 5, as `qa ask`)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N questions (default: all)")
    parser.add_argument("--out", type=Path, default=None, help="results file (default: bench/results/...)")
    args = parser.parse_args(argv)

    embedder = SentenceTransformerEmbedder(device="cpu")
    report = build_index(args.data / "corpus.jsonl", args.index, embedder, progress=True)
    print(f"index {args.index}: {report.documents} paragraphs, {report.chunks} chunks "
          f"({report.chunks_embedded} embedded now)")
    assistant = Assistant.load(args.index, embedder=embedder)
    questions = load_questions(args.data)[: args.limit or None]
    load_before = os.getloadavg()[0]
    rows = ask_all(assistant, questions, args.k, {"mode": args.mode} if args.mode else {})
    summary = summarise(rows, oracle_all(assistant, questions), args.k)
    summary.update({
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],  # a busy CPU shows in the latency
        "command": "python bench/answers.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    })
    print(json.dumps(summary, indent=2))
    out = args.out or REPO / "bench" / "results" / f"answers-{summary['mode']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"summary": summary, "questions": rows}, indent=1, ensure_ascii=False))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
