"""Answer selection on handmade passages: the right sentence wins, offsets are exact, nothing is forced."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.answer import cues
from qa.answer.selection import MIN_SCORE, candidates, pick_answer, sentences
from qa.assistant import Assistant
from qa.index.build import build_index
from qa.records import Document, Passage
from qa.serve.render_text import result_text


def passage_of(doc: Document, start: int, end: int, rank: int = 1, score: float = 0.5) -> Passage:
    return Passage(rank=rank, score=score, source=doc.source, title=doc.title, publisher=doc.publisher,
                   date=doc.date, path=doc.path, doc_id=doc.doc_id, chunk_id=f"{doc.doc_id}::{rank}", start=start,
                   end=end, page=None, section=None, text=doc.text[start:end])


ISW = Document(
    "isw.md", "isw.md",
    "# Key takeaways\nRussia and Iran voiced concern about Syria. Russian forces have used the Hmeimim base since "
    "2015. Russia withdrew its S-300 air defense systems from Syria in 2022 to use them in Ukraine. The "
    "systems had guarded the base.\n",
    "Russia, Iran and Syria", "Institute for the Study of War", "2024-11-30",
)
RIVERS = Document(
    "rivers.txt", "rivers.txt",
    "Rivers of Europe\n\nThe Danube flows through ten countries. It ends in the Black Sea. The Rhine starts in "
    "the Swiss Alps and ends in the North Sea.\n",
    "Rivers of Europe",
)


def test_the_sentence_with_the_date_answers_a_when_question() -> None:
    passage = passage_of(ISW, 0, len(ISW.text))
    answer, marked = pick_answer("When did Russia withdraw its S-300 systems from Syria?", [passage])
    assert answer is not None and "in 2022" in answer.text
    assert ISW.text[answer.start:answer.end] == answer.text
    assert (answer.source, answer.path, answer.doc_id, answer.passage_rank) == (
        ISW.source, "isw.md", "isw.md", 1)


def test_offsets_are_exact_for_a_passage_in_the_middle_of_a_document() -> None:
    start = ISW.text.index("Russian forces")
    passages = [passage_of(RIVERS, 0, len(RIVERS.text), rank=1, score=0.6),
                passage_of(ISW, start, len(ISW.text), rank=2, score=0.5)]
    answer, marked = pick_answer("When were the S-300 air defense systems withdrawn from Syria?", passages)
    assert answer is not None and answer.passage_rank == 2 and answer.doc_id == "isw.md"
    assert ISW.text[answer.start:answer.end] == answer.text
    lo, hi = marked[1].highlight
    assert marked[1].text[lo:hi] == answer.text
    assert marked[1].start + lo == answer.start
    assert marked[0].highlight is None and marked[0] == passages[0]


def test_a_number_question_prefers_the_sentence_with_a_figure() -> None:
    passage = passage_of(RIVERS, 0, len(RIVERS.text))
    answer, _ = pick_answer("How many countries does the Danube flow through?", [passage])
    assert answer is not None and answer.text == "The Danube flows through ten countries."


def test_where_question_and_the_sentence_that_names_the_place() -> None:
    passage = passage_of(RIVERS, 0, len(RIVERS.text))
    answer, _ = pick_answer("Where does the Rhine start?", [passage])
    assert answer is not None and "Swiss Alps" in answer.text


def test_no_answer_when_nothing_matches() -> None:
    passage = passage_of(RIVERS, 0, len(RIVERS.text))
    answer, marked = pick_answer("Who composed the Brandenburg concertos?", [passage])
    assert answer is None
    assert marked == (passage,)


def test_no_passages_no_answer() -> None:
    assert pick_answer("When did it happen?", []) == (None, ())


def test_unicode_offsets_are_exact() -> None:
    doc = Document("uk.txt", "uk.txt", "Київ — столиця України. 🎉 Харків лежить на сході; його заснували 1654 року. "
                   "Ünïcödé façade naïve café in Zürich was built in 1898.", "Україна")
    passage = passage_of(doc, doc.text.index("Харків"), len(doc.text))
    answer, marked = pick_answer("When was the café in Zürich built?", [passage])
    assert answer is not None and answer.text.startswith("Ünïcödé") and answer.text.endswith("1898.")
    assert doc.text[answer.start:answer.end] == answer.text
    lo, hi = marked[0].highlight
    assert marked[0].text[lo:hi] == answer.text


def test_weak_answers_are_turned_away_and_scores_are_probabilities() -> None:
    passage = passage_of(RIVERS, 0, len(RIVERS.text))
    question = "Who composed the Brandenburg concertos?"
    forced, _ = pick_answer(question, [passage], min_score=0.0)
    answer, _ = pick_answer("How many countries does the Danube flow through?", [passage])
    assert forced is not None and answer is not None
    assert 0 < forced.score < MIN_SCORE <= answer.score < 1


def test_abbreviations_and_initials_do_not_end_a_sentence() -> None:
    text = "The graph is from a paper by Michael E. Hughes in 1999. The retable of St. George dates from c. 1400."
    assert [text[s:e] for s, e in sentences(text)] == [
        "The graph is from a paper by Michael E. Hughes in 1999.", "The retable of St. George dates from c. 1400."]


def test_overlapping_chunks_give_each_sentence_once() -> None:
    middle = RIVERS.text.index("It ends")
    passages = [passage_of(RIVERS, 0, len(RIVERS.text), rank=1), passage_of(RIVERS, middle, len(RIVERS.text), rank=2)]
    found = candidates(passages)
    spans = [(passages[c.passage].start + c.start, passages[c.passage].start + c.end) for c in found]
    assert spans == sentences(RIVERS.text)  # each once, in document order, from the first passage holding it
    for c in found:
        assert passages[c.passage].text[c.start:c.end] == c.text


def test_only_the_top_passages_are_searched() -> None:
    passages = [passage_of(RIVERS, 0, len(RIVERS.text), rank=1), passage_of(ISW, 0, len(ISW.text), rank=2)]
    assert {c.passage for c in candidates(passages, max_passages=1)} == {0}


@pytest.mark.parametrize(
    ("question", "kind"),
    [("When did the war end?", "when"), ("In what year was it built?", "when"), ("How many people live there?",
     "number"), ("What percentage voted?", "number"), ("Who wrote Hamlet?", "who"), ("Where is Kharkiv?", "where"),
     ("What is a neutron star?", None), ("", None)],
)
def test_question_types(question: str, kind: str | None) -> None:
    assert cues.question_type(question) == kind


def test_cues_ignore_what_the_question_already_says() -> None:
    assert cues.has_cue("when", "It happened in 1945.", "What happened in 1950?")
    assert not cues.has_cue("when", "It happened in 1945.", "What happened in 1945?")
    assert cues.has_cue("number", "Ten countries.", "How many?") and not cues.has_cue(None, "In 1945.", "Why?")
    assert not cues.has_cue("number", "It is one of the most pressing issues.", "How many are displaced?")


def test_names_in_any_script_are_who_and_where_cues() -> None:
    assert cues.has_cue("who", "Il fut écrit par Émile Zola.", "Who wrote it?")
    assert cues.has_cue("where", "Вона народилася в Харкові.", "Where was she born?")
    assert not cues.has_cue("who", "It was written by a friend.", "Who wrote it?")
    assert not cues.has_cue("who", "Zola wrote it.", "Who wrote it?")  # the first word may be capitalised anyway


def test_ask_fills_the_answer_and_marks_it_in_its_passage(small_corpus: Path, tmp_path: Path, embedder) -> None:
    build_index(small_corpus, tmp_path / "index", embedder, progress=False)
    result = Assistant.load(tmp_path / "index", embedder=embedder).ask("When are apples harvested?", k=3)
    answer = result.answer
    assert answer is not None and answer.text == "Apples are harvested in autumn by hand."
    doc = (small_corpus / "apples.md").read_text(encoding="utf-8")
    passage = next(p for p in result.passages if p.rank == answer.passage_rank)
    assert passage.text[slice(*passage.highlight)] == answer.text
    assert passage.start + passage.highlight[0] == answer.start
    assert [p.highlight is not None for p in result.passages].count(True) == 1
    assert answer.text in doc and "answer" in result.timings_ms
    data = result.to_dict()["answer"]
    assert {"text", "source", "file", "start", "end", "score", "passage_rank"} <= set(data)
    assert data["source"] == "Apples · Orchard Weekly · 2023-05-01" and data["file"] == "apples.md"
    text = result_text(result)
    assert "Answer: Apples are harvested in autumn by hand." in text
    assert "»Apples are harvested in autumn by hand.«" in text


def test_ask_can_leave_the_answer_out(small_corpus: Path, tmp_path: Path, embedder) -> None:
    build_index(small_corpus, tmp_path / "index", embedder, progress=False)
    result = Assistant.load(tmp_path / "index", embedder=embedder).ask("When are apples harvested?", answer=False)
    assert result.answer is None and all(p.highlight is None for p in result.passages)
    assert "»" not in result_text(result)
