"""Scripted evaluation: datasets in, one ``Assistant.ask`` per question, metrics and a TREC run file out.

Two kinds of dataset:
- a BEIR-style folder (``corpus.jsonl``, ``queries.jsonl``, ``qrels.tsv``, optional ``answers.jsonl``): its corpus
  is indexed into an index folder of its own (an unchanged corpus with unchanged settings is reused as it is, the
  incremental build makes that cheap), then every judged query is asked. ``split="train"`` reads
  ``train-queries.jsonl`` and ``train-qrels.tsv`` instead, for tuning on data we do not report.
- a questions file (``.jsonl``, one ``{"question", "source", "answer"}`` a line; ``source`` a text expected in the
  top passage's source label, ``answer`` one expected in the answer, or a list of them) asked against an existing
  index. Optional: ``doc``, the document that answers it (its id in the index: the path, or a collection's
  ``_id``), which gives the ranking metrics (success@1, ...); ``history``, the earlier questions of its
  conversation, oldest first, asked in turn before it so that it can lean on them (``Assistant.converse``).

Rankings are document level: a passage counts as its document (the corpus ``_id`` for BEIR collections), once.
Metrics come from ``qa.evaluation.metrics`` (trec_eval's definitions via pytrec_eval).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa.assistant import Assistant, check_k
from qa.errors import DatasetError, QuestionError
from qa.evaluation.metrics import contains_answer, percentiles, ranking_metrics, strict_scores


@dataclass(frozen=True)
class Dataset:
    name: str
    kind: str  # "beir" or "questions"
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]] = field(default_factory=dict)
    answers: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    corpus: Path | None = None
    histories: dict[str, tuple[str, ...]] = field(default_factory=dict)  # question id -> earlier questions


@dataclass(frozen=True)
class EvalReport:
    """One mode on one dataset: the JSON contract of ``qa eval --json``."""

    dataset: str
    mode: str
    queries: int
    metrics: dict[str, float]
    latency_ms: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "mode": self.mode, "queries": self.queries,
                "metrics": {name: round(value, 4) for name, value in self.metrics.items()},
                "latency_ms": self.latency_ms}


Ranking = dict[str, list[tuple[str, float]]]  # query id -> [(document id, score)] best first


def _jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    rows = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"cannot read {path} ({exc}): check the path") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            row = None
        if not isinstance(row, dict):
            raise DatasetError(f"{path} line {number} is not a JSON object: fix or remove the line")
        rows.append((number, row))
    return rows


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """A TREC/BEIR judgements file (``query-id corpus-id score``, optional header) -> ``{query: {doc: score}}``."""
    qrels: dict[str, dict[str, int]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        if not parts or (number == 1 and not parts[-1].lstrip("-").isdigit()):
            continue  # blank line or the "query-id corpus-id score" header
        if len(parts) not in (3, 4) or not parts[-1].lstrip("-").isdigit():
            raise DatasetError(f"{path} line {number} is not 'query-id<TAB>corpus-id<TAB>score': fix the line")
        qrels.setdefault(parts[0], {})[parts[-2]] = int(parts[-1])
    return qrels


def load_dataset(path: str | Path, split: str = "test") -> Dataset:
    """A BEIR folder or a questions ``.jsonl`` file; DatasetError names what is missing or malformed."""
    path = Path(path)
    if path.is_dir():
        prefix = "" if split == "test" else f"{split}-"
        need = {"corpus": path / "corpus.jsonl", "queries": path / f"{prefix}queries.jsonl",
                "qrels": path / f"{prefix}qrels.tsv"}
        missing = [p.name for p in need.values() if not p.is_file()]
        if missing:
            raise DatasetError(f"{path} is not a BEIR folder: {', '.join(missing)} missing (a BEIR folder holds "
                               "corpus.jsonl, queries.jsonl and qrels.tsv)")
        qrels = read_qrels(need["qrels"])
        queries = {str(row.get("_id")): str(row.get("text", "")) for _, row in _jsonl(need["queries"])}
        queries = {q: text for q, text in queries.items() if q in qrels}
        if not queries:
            raise DatasetError(f"no query in {need['queries'].name} has a judgement in {need['qrels'].name}: check "
                               "that their query ids match")
        answers = {}
        if (path / "answers.jsonl").is_file():
            rows = _jsonl(path / "answers.jsonl")
            answers = {str(row.get("_id")): tuple(row.get("answers") or ()) for _, row in rows}
        name = path.resolve().name + ("" if split == "test" else f"-{split}")
        return Dataset(name, "beir", queries, qrels, answers, corpus=need["corpus"])
    if path.is_file():
        return _questions_file(path)
    raise DatasetError(f"no dataset at {path}: give a BEIR folder or a questions .jsonl file")


def _questions_file(path: Path) -> Dataset:
    queries, answers, sources, qrels, histories = {}, {}, {}, {}, {}
    for number, row in _jsonl(path):
        if not isinstance(row.get("question"), str) or not row["question"].strip():
            raise DatasetError(f"{path} line {number} has no \"question\": each line needs one")
        history = row.get("history") or []
        if not isinstance(history, list) or not all(isinstance(q, str) and q.strip() for q in history):
            raise DatasetError(f"{path} line {number} has a \"history\" that is not a list of questions: give "
                               "the earlier questions as texts, oldest first")
        qid = str(number)
        queries[qid] = row["question"]
        if row.get("answer"):
            gold = row["answer"] if isinstance(row["answer"], list) else [row["answer"]]
            answers[qid] = tuple(str(g) for g in gold)
        if row.get("source"):
            sources[qid] = str(row["source"])
        if row.get("doc"):
            qrels[qid] = {str(row["doc"]): 1}
        if history:
            histories[qid] = tuple(history)
    if not queries:
        raise DatasetError(f"{path} holds no questions: one JSON object per line, {{\"question\": ...}}")
    return Dataset(path.stem, "questions", queries, qrels, answers=answers, sources=sources, histories=histories)


def _ask(assistant: Assistant, dataset: Dataset, qid: str, use_history: bool, **options: Any) -> Any:
    """The result of one question (after its history, when used); None for a question that cannot be searched."""
    earlier = dataset.histories.get(qid, ()) if use_history else ()
    try:
        return assistant.converse([*earlier, dataset.queries[qid]], **options)[-1]
    except QuestionError:
        return None  # an unanswerable question (e.g. no words) scores 0 rather than stopping the run


def run_mode(assistant: Assistant, dataset: Dataset, mode: str, k: int, *, progress: bool = True,
             use_history: bool = True) -> tuple[EvalReport, Ranking]:
    """Ask every question in one mode; the report and the document ranking of each question. A question with a
    history is asked after it (the latency is the whole conversation's), unless ``use_history`` is False."""
    from tqdm import tqdm

    external = {d.doc_id: d.external_id or d.doc_id for d in assistant.data.documents}
    ranking: Ranking = {}
    latencies: list[float] = []
    checks: dict[str, list[bool]] = {}
    for qid in tqdm(dataset.queries, desc=f"{dataset.name} {mode}", unit="q", disable=not progress):
        started = time.perf_counter()
        result = _ask(assistant, dataset, qid, use_history, k=k, mode=mode)
        latencies.append((time.perf_counter() - started) * 1000)
        passages = result.passages if result else ()
        ranking[qid] = [(external[p.doc_id], p.score) for p in passages]
        for name, ok in _checks(dataset, qid, result).items():
            checks.setdefault(name, []).append(ok)
    metrics = ranking_metrics(run_dict(ranking), dataset.qrels) if dataset.qrels else {}
    metrics.update({name: sum(values) / len(values) for name, values in checks.items()})
    report = EvalReport(dataset.name, mode, len(dataset.queries), metrics, percentiles(latencies))
    return report, ranking


def _checks(dataset: Dataset, qid: str, result: Any) -> dict[str, bool]:
    """Answer and source checks for one question, where the dataset knows them."""
    passages = result.passages if result else ()
    out = {}
    if qid in dataset.answers:
        gold = dataset.answers[qid]
        out["answer@1"] = any(contains_answer(p.text, gold) for p in passages[:1])
        out["answer@5"] = any(contains_answer(p.text, gold) for p in passages[:5])
        # No answer counts as a wrong one: accuracy is over every question with a known answer.
        answer = result.answer if result is not None else None
        out["answer_accuracy"] = answer is not None and contains_answer(answer.text, gold)
    if qid in dataset.sources:
        needle = dataset.sources[qid].casefold()
        out["source@1"] = any(needle in p.source.casefold() for p in passages[:1])
        out["source@5"] = any(needle in p.source.casefold() for p in passages[:5])
    return out


def run_dict(ranking: Ranking) -> dict[str, dict[str, float]]:
    """The ranking as trec_eval reads it (strictly decreasing scores, so trec_eval keeps our order)."""
    return {qid: strict_scores(docs) for qid, docs in ranking.items()}


def write_run_file(path: Path, ranking: Ranking, tag: str) -> None:
    """Standard TREC run file: ``qid Q0 docid rank score tag``, one line per retrieved document."""
    lines = []
    for qid, docs in run_dict(ranking).items():
        lines += [f"{qid} Q0 {doc} {rank} {score:.6f} {tag}" for rank, (doc, score) in enumerate(docs.items(), 1)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")


def run_file_for(path: Path, mode: str, modes: Sequence[str]) -> Path:
    """``run.tsv`` for one mode; ``run.dense.tsv``, ``run.hybrid.tsv``, ... when several are run."""
    return path if len(modes) == 1 else path.with_name(f"{path.stem}.{mode}{path.suffix}")


def report_table(reports: Sequence[EvalReport]) -> str:
    """Modes side by side: one row per metric, one column per mode."""
    if not reports:
        return ""
    first = reports[0]
    names = list(dict.fromkeys(name for r in reports for name in r.metrics))
    width = max([len(n) for n in names] + [len("latency p95 ms")]) + 2
    head = f"{first.dataset}: {first.queries} questions"
    lines = [head, "-" * len(head), " " * width + "".join(f"{r.mode:>10}" for r in reports)]
    for name in names:
        cells = "".join(f"{r.metrics[name]:>10.4f}" if name in r.metrics else f"{'-':>10}" for r in reports)
        lines.append(f"{name:<{width}}{cells}")
    for key in ("p50", "p95"):
        lines.append(f"{'latency ' + key + ' ms':<{width}}" + "".join(f"{r.latency_ms[key]:>10.1f}" for r in reports))
    return "\n".join(lines) + "\n"


def default_index(dataset: Dataset) -> Path:
    """Where a BEIR folder's corpus is indexed unless told otherwise: ``index-eval/<dataset name>``."""
    return Path("index-eval") / dataset.name.removesuffix("-train")


def evaluate(dataset: Dataset, index_dir: Path, modes: Sequence[str], k: int, *, embedder: Any = None,
             progress: bool = True, use_history: bool = True) -> list[tuple[EvalReport, Ranking]]:
    """Index a BEIR corpus (reusing what is unchanged) or open the given index, then run every mode (questions
    with a history after it, unless ``use_history`` is False)."""
    from qa.settings import DEFAULT

    k = check_k(k, DEFAULT.max_k)
    if dataset.kind == "beir":
        from qa.index.build import build_index

        if embedder is None:
            from qa.embed.embedders import embedder_for

            embedder = embedder_for()
        build_index(dataset.corpus, index_dir, embedder, progress=progress)
    assistant = Assistant.load(index_dir, embedder=embedder)
    return [run_mode(assistant, dataset, mode, k, progress=progress, use_history=use_history) for mode in modes]
