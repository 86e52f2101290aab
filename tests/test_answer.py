"""Answer selection on handmade passages: the right sentence wins, offsets are exact, nothing is forced."""

from __future__ import annotations

import numpy as np
import pytest

from qa import cues
from qa.answer import candidates, contains_answer, normalize_answer, pick_answer
from qa.embedding import HashingEmbedder
from qa.records import Document, Passage


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


def test_sentence_vectors_are_used_when_given() -> None:
    embedder = HashingEmbedder(256)
    passage = passage_of(RIVERS, 0, len(RIVERS.text))
    query = embedder.embed(["Which sea does the Danube end in?"])[0]
    answer, _ = pick_answer("Which sea does the Danube end in?", [passage], query_vector=query, embed=embedder.embed)
    assert answer is not None and "Black Sea" in answer.text


def test_overlapping_chunks_give_each_sentence_once() -> None:
    middle = RIVERS.text.index("It ends")
    passages = [passage_of(RIVERS, 0, len(RIVERS.text), rank=1), passage_of(RIVERS, middle, len(RIVERS.text), rank=2)]
    found = candidates(passages)
    spans = [(passages[c.passage].start + c.start, passages[c.passage].start + c.end) for c in found]
    assert len(spans) == len(set(spans)) == 3
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


def test_squad_normalisation() -> None:
    assert normalize_answer("The  Denver Broncos!") == "denver broncos"
    assert contains_answer("Won by the Denver Broncos, 24–10.", ["Denver Broncos"])
    assert not contains_answer("Denverite Broncosaurus", ["Denver Broncos"])
    assert not contains_answer("anything", ["", "the"])


def test_answer_score_orders_candidates() -> None:
    passage = passage_of(RIVERS, 0, len(RIVERS.text))
    a, _ = pick_answer("Which sea does the Danube end in?", [passage])
    b, _ = pick_answer("Danube", [passage])
    assert a is not None and np.isfinite(a.score)
    assert b is None or b.score <= a.score
