"""bench/followups.py: the documented rule that turns consecutive SQuAD questions into follow-ups."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.followups import build_sets, rewritten


@pytest.mark.parametrize(("question", "title", "expected"), [
    ("Where did Super Bowl 50 take place?", "Super Bowl 50", "Where did it take place?"),
    ("Super Bowl 50's theme was what?", "Super Bowl 50", "Its theme was what?"),
    ("When did the Normans conquer England?", "Normans", "When did they conquer England?"),
    ("What was the Normans' religion?", "Normans", "What was their religion?"),
    ("Where was Tesla born?", "Nikola Tesla", "Where was it born?"),
    ("Who founded the city?", "Warsaw", None),
    ("Where is Warsawa?", "Warsaw", None),  # whole words only
])
def test_the_subject_is_replaced_by_a_pronoun(question: str, title: str, expected: str | None) -> None:
    assert rewritten(question, title) == expected


def test_sets_pair_consecutive_questions_of_one_article(tmp_path: Path) -> None:
    paragraphs = [("0_0", "Super Bowl 50"), ("0_1", "Super Bowl 50"), ("1_0", "Warsaw")]
    questions = [("a", "Who won Super Bowl 50?", "0_0"), ("b", "Where was Super Bowl 50 played?", "0_1"),
                 ("c", "Who sang at the halftime show?", "0_1"), ("d", "How big is Warsaw?", "1_0"),
                 ("e", "What river flows through Warsaw?", "1_0")]
    (tmp_path / "corpus.jsonl").write_text("".join(json.dumps({"_id": i, "title": t, "text": "x"}) + "\n"
                                                   for i, t in paragraphs))
    (tmp_path / "queries.jsonl").write_text("".join(json.dumps({"_id": q, "text": t}) + "\n" for q, t, _ in questions))
    (tmp_path / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n"
                                                                               for q, _, d in questions))
    (tmp_path / "answers.jsonl").write_text("".join(json.dumps({"_id": q, "answers": ["g"], "answers_all": ["g"]})
                                                    + "\n" for q, _, _ in questions))
    sets = build_sets(tmp_path)
    assert [(r["question"], r["history"], r["doc"]) for r in sets["followup"]] == [
        ("Where was it played?", ["Who won Super Bowl 50?"], "0_1"),
        ("What river flows through it?", ["How big is Warsaw?"], "1_0")]
    assert [r["question"] for r in sets["standalone"]] == ["Where was Super Bowl 50 played?",
                                                          "What river flows through Warsaw?"]
    assert [r["history"] for r in sets["switch"]] == [["How big is Warsaw?"], ["Who won Super Bowl 50?"]]
