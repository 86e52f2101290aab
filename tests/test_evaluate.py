"""`qa eval`: metrics against brute force, the run file against pytrec_eval, datasets and their errors."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import pytest
import pytrec_eval

from qa.evaluation.evaluate import load_dataset
from qa.evaluation.metrics import contains_answer, percentiles, ranking_metrics, strict_scores
from qa.serve.cli import main

CORPUS = [
    ("d1", "Apples", "Apple trees grow best in cool climates and are harvested in autumn."),
    ("d2", "Danube", "The Danube flows through ten countries and ends in the Black Sea."),
    ("d3", "Rhine", "The Rhine starts in the Swiss Alps and ends in the North Sea."),
    ("d4", "Neutron stars", "A neutron star is the collapsed core of a massive star; it spins quickly."),
    ("d5", "Comets", "Comets have icy nuclei and long tails that point away from the Sun."),
    ("d6", "Bread", "Bread is baked from wheat flour, water, salt and yeast."),
]
QUERIES = [("q1", "Which sea does the Danube end in?"), ("q2", "Where does the Rhine river start?"),
           ("q3", "When are apples harvested?"), ("q4", "What is a neutron star?"), ("q5", "unjudged question")]
QRELS = [("q1", "d2", 1), ("q2", "d3", 2), ("q2", "d2", 1), ("q3", "d1", 1), ("q4", "d4", 1), ("q4", "d5", 0)]
ANSWERS = [("q1", ["the Black Sea"]), ("q2", ["Swiss Alps"]), ("q3", ["in autumn"]), ("q4", ["core of a star"])]


@pytest.fixture
def beir(tmp_path: Path) -> Path:
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": i, "title": t, "text": x}) + "\n"
                                                 for i, t, x in CORPUS))
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": i, "text": t}) + "\n" for i, t in QUERIES))
    (folder / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t{r}\n" for q, d, r in QRELS))
    (folder / "answers.jsonl").write_text("".join(json.dumps({"_id": q, "answers": a}) + "\n" for q, a in ANSWERS))
    return folder


@pytest.fixture
def fast_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_MODEL", "hashing-64")


def _read_run(path: Path) -> dict[str, dict[str, float]]:
    run: dict[str, dict[str, float]] = {}
    for line in path.read_text().splitlines():
        qid, q0, doc, rank, score, tag = line.split()
        assert q0 == "Q0" and tag.startswith("qa-")
        run.setdefault(qid, {})[doc] = float(score)
    return run


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_pytrec_eval_on_the_run_file_reproduces_the_printed_metrics(beir: Path, tmp_path: Path, fast_model,
                                                                     capsys, mode: str) -> None:
    run_file = tmp_path / "run.tsv"
    assert main(["eval", str(beir), "--index", str(tmp_path / "index"), "--mode", mode, "--json", "-q",
                 "--run-file", str(run_file)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["dataset"] == "tiny" and printed["mode"] == mode and printed["queries"] == 4
    run = _read_run(run_file)
    assert set(run) <= {"q1", "q2", "q3", "q4"} and all(len(docs) <= 6 for docs in run.values())
    qrels = {}
    for q, d, r in QRELS:
        qrels.setdefault(q, {})[d] = r
    full = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.10", "recall.100", "success.1",
                                                  "success.5"}).evaluate(run)
    top10 = {q: dict(sorted(d.items(), key=lambda kv: -kv[1])[:10]) for q, d in run.items()}
    rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(top10)
    want = {
        "ndcg@10": sum(full.get(q, {}).get("ndcg_cut_10", 0) for q in qrels) / 4,
        "mrr@10": sum(rr.get(q, {}).get("recip_rank", 0) for q in qrels) / 4,
        "recall@10": sum(full.get(q, {}).get("recall_10", 0) for q in qrels) / 4,
        "recall@100": sum(full.get(q, {}).get("recall_100", 0) for q in qrels) / 4,
        "success@1": sum(full.get(q, {}).get("success_1", 0) for q in qrels) / 4,
        "success@5": sum(full.get(q, {}).get("success_5", 0) for q in qrels) / 4,
    }
    for name, value in want.items():
        assert printed["metrics"][name] == pytest.approx(value, abs=6e-5), name
    # answer@k: the share of questions with a known answer whose top k passages hold it (one passage a document)
    texts = {d: text for d, _, text in CORPUS}
    ranked = {q: sorted(docs, key=lambda d: -docs[d]) for q, docs in run.items()}
    for k in (1, 5):
        found = [any(contains_answer(texts[d], gold) for d in ranked.get(q, [])[:k]) for q, gold in ANSWERS]
        assert printed["metrics"][f"answer@{k}"] == pytest.approx(sum(found) / len(ANSWERS)), k
    assert set(printed["latency_ms"]) == {"p50", "p95"}


def _reference(run: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    """The textbook definitions, by hand: nDCG with gain = grade and log2 discount, RR, recall, success."""
    rows = []
    for q, rels in qrels.items():
        if not any(r > 0 for r in rels.values()):
            continue
        ranked = run.get(q, [])
        gain = [max(rels.get(d, 0), 0) for d in ranked]
        dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gain[:10]))
        ideal = sorted((r for r in rels.values() if r > 0), reverse=True)
        idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal[:10]))
        relevant = {d for d, r in rels.items() if r > 0}
        first = next((i for i, d in enumerate(ranked[:10], 1) if d in relevant), None)
        rows.append({
            "ndcg@10": dcg / idcg,
            "mrr@10": 1 / first if first else 0.0,
            "recall@10": len(relevant & set(ranked[:10])) / len(relevant),
            "recall@100": len(relevant & set(ranked[:100])) / len(relevant),
            "success@1": float(bool(relevant & set(ranked[:1]))),
            "success@5": float(bool(relevant & set(ranked[:5]))),
        })
    return {name: sum(r[name] for r in rows) / len(rows) for name in rows[0]}


def test_metrics_match_a_brute_force_reference() -> None:
    qrels = {"a": {"d1": 2, "d2": 1, "d9": 0}, "b": {"d5": 1}, "c": {"d7": 1, "d8": 3}, "d": {"d1": 1},
             "e": {"d3": 0}}  # e has no relevant document: skipped, as trec_eval does
    run = {
        "a": ["d9", "d2", "d3", "d1"] + [f"x{i}" for i in range(20)],
        "b": [f"y{i}" for i in range(11)] + ["d5"],  # relevant at rank 12: outside MRR@10, inside recall@100
        "c": ["d8", "d7"],
        "d": [],  # judged, nothing retrieved: counts as 0
    }
    scored = {q: strict_scores([(d, 100.0 - i) for i, d in enumerate(docs)]) for q, docs in run.items()}
    got = ranking_metrics(scored, qrels)
    want = _reference(run, qrels)
    assert set(got) == set(want)
    for name in want:
        assert got[name] == pytest.approx(want[name], abs=1e-9), name


def test_tied_scores_keep_our_rank_order() -> None:
    scores = strict_scores([("b", 1.0), ("a", 1.0), ("c", 0.5)])
    assert list(scores) == ["b", "a", "c"] and scores["b"] > scores["a"] > scores["c"]
    # trec_eval would put "a" first on a tie; with strict scores it keeps "b" first
    assert ranking_metrics({"q": scores}, {"q": {"b": 1}})["success@1"] == 1.0


def test_answer_checks_and_percentiles() -> None:
    assert contains_answer("It ends in the Black Sea.", ["black sea"])
    assert contains_answer("Denver Broncos won", ["The Denver Broncos"])
    assert not contains_answer("in 1999", ["99"])  # whole words only
    for values in ([1, 2, 3, 4, 100], [7.5], [3, 1, 2], list(range(1000, 0, -7))):
        # the reference: the standard library's linear interpolation between closest ranks
        cuts = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else [values[0]] * 99
        assert percentiles(values) == {"p50": round(cuts[49], 2), "p95": round(cuts[94], 2)}, values
    assert percentiles([]) == {"p50": 0.0, "p95": 0.0}


def test_mode_all_prints_modes_side_by_side_and_writes_one_run_per_mode(beir: Path, tmp_path: Path, fast_model,
                                                                        capsys) -> None:
    index = tmp_path / "index"
    assert main(["eval", str(beir), "--index", str(index), "--mode", "all", "-q", "--run-file",
                 str(tmp_path / "run.tsv")]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0] == "tiny: 4 questions"
    header = table.splitlines()[2].split()
    assert header == ["dense", "lexical", "hybrid"]
    assert any(line.startswith("ndcg@10") for line in table.splitlines())
    assert {p.name for p in tmp_path.glob("run.*.tsv")} == {"run.dense.tsv", "run.lexical.tsv", "run.hybrid.tsv"}
    assert main(["eval", str(beir), "--index", str(index), "--mode", "all", "-q", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["mode"] for d in data] == ["dense", "lexical", "hybrid"]


def test_an_unchanged_corpus_reuses_its_index(beir: Path, tmp_path: Path, fast_model, capsys) -> None:
    index = tmp_path / "index"
    assert main(["eval", str(beir), "--index", str(index), "-q"]) == 0
    live = (index / "CURRENT").read_text()
    assert main(["eval", str(beir), "--index", str(index), "-q"]) == 0
    assert (index / "CURRENT").read_text() == live


def test_questions_file_against_an_existing_index(beir: Path, tmp_path: Path, fast_model, capsys) -> None:
    index = tmp_path / "index"
    assert main(["index", "--corpus", str(beir / "corpus.jsonl"), "--index", str(index), "-q"]) == 0
    questions = tmp_path / "rated.jsonl"
    questions.write_text(
        json.dumps({"question": "Which sea does the Danube end in?", "source": "danube", "answer": "Black Sea"})
        + "\n\n" + json.dumps({"question": "What do comets have?", "source": "Comets"}) + "\n")
    capsys.readouterr()
    assert main(["eval", str(questions), "--index", str(index), "--json", "-q", "--mode", "lexical"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["dataset"] == "rated" and data["queries"] == 2
    assert data["metrics"] == {"answer@1": 1.0, "answer@5": 1.0, "answer_accuracy": 1.0, "source@1": 1.0,
                               "source@5": 1.0}


def test_the_train_split_is_read_from_its_own_files(beir: Path) -> None:
    (beir / "train-queries.jsonl").write_text(json.dumps({"_id": "t1", "text": "bread"}) + "\n")
    (beir / "train-qrels.tsv").write_text("t1\td6\t1\n")
    dataset = load_dataset(beir, split="train")
    assert dataset.name == "tiny-train" and dataset.queries == {"t1": "bread"}
    assert set(load_dataset(beir).queries) == {"q1", "q2", "q3", "q4"}  # q5 has no judgement


@pytest.mark.parametrize(("setup", "message"), [
    (lambda d: (d / "qrels.tsv").unlink(), "not a BEIR folder: qrels.tsv missing"),
    (lambda d: (d / "qrels.tsv").write_text("query-id corpus-id score\nq1 d1\n"), "line 2 is not 'query-id"),
    (lambda d: (d / "qrels.tsv").write_text("x1\td1\t1\n"), "no query in queries.jsonl has a judgement"),
    (lambda d: (d / "queries.jsonl").write_text("[1, 2]\n"), "line 1 is not a JSON object"),
])
def test_bad_datasets_are_one_line_errors(beir: Path, tmp_path: Path, fast_model, capsys, setup, message) -> None:
    setup(beir)
    assert main(["eval", str(beir), "--index", str(tmp_path / "index"), "-q"]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_bad_k_and_missing_dataset_are_refused(beir: Path, tmp_path: Path, fast_model, capsys) -> None:
    assert main(["eval", str(beir), "--index", str(tmp_path / "index"), "-k", "500", "-q"]) == 1
    assert "k=500 is out of range" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "nothing-here"), "-q"]) == 1
    assert "no dataset at" in capsys.readouterr().err


def test_questions_with_a_history_are_asked_after_it(beir: Path, tmp_path: Path, fast_model, capsys) -> None:
    index = tmp_path / "index"
    assert main(["index", "--corpus", str(beir / "corpus.jsonl"), "--index", str(index), "-q"]) == 0
    questions = tmp_path / "followups.jsonl"
    rows = [{"question": "Which sea does it end in?", "history": ["What does the Danube flow through?"], "doc": "d2",
             "answer": ["Black Sea", "the Black Sea"]},
            {"question": "What is a neutron star?", "history": ["Where does the Rhine start?"], "doc": "d4"}]
    questions.write_text("".join(json.dumps(row) + "\n" for row in rows))
    dataset = load_dataset(questions)
    assert dataset.histories == {"1": ("What does the Danube flow through?",), "2": ("Where does the Rhine start?",)}
    assert dataset.qrels == {"1": {"d2": 1}, "2": {"d4": 1}} and dataset.answers["1"] == ("Black Sea", "the Black Sea")
    capsys.readouterr()
    common = ["eval", str(questions), "--index", str(index), "--json", "-q", "--mode", "lexical"]
    assert main(common) == 0
    with_history = json.loads(capsys.readouterr().out)["metrics"]
    assert main([*common, "--without-history"]) == 0
    alone = json.loads(capsys.readouterr().out)["metrics"]
    assert with_history["success@1"] == 1.0 and with_history["answer_accuracy"] == 1.0
    assert alone["success@1"] == 0.5 and alone["answer_accuracy"] == 0.0  # alone, "it" is the Rhine


def test_a_history_that_is_not_a_list_of_questions_is_refused(tmp_path: Path, capsys) -> None:
    questions = tmp_path / "bad.jsonl"
    questions.write_text(json.dumps({"question": "Why?", "history": "Where?"}) + "\n")
    assert main(["eval", str(questions), "--index", str(tmp_path / "index"), "-q"]) == 1
    assert "line 1 has a \"history\" that is not a list of questions" in capsys.readouterr().err
