"""Pure: pick the sentence in the top passages that answers the question, and mark it in its passage.

No reader model or cross-encoder exists offline, so every sentence of the top ``max_passages`` passages is a
candidate, described by a few features (``FEATURES``) and scored by a linear model:

- lexical overlap with the question, IDF-weighted over stemmed content words, also for the sentence before it
  (answers often follow the sentence that names the subject) and for word pairs;
- cosine similarity of sentence and question vectors, when an ``embed`` function is given (the caller owns the
  model; this module only sees arrays);
- the question's type and whether the sentence holds that kind of thing (a year for "when", a figure for
  "how many", ...) that the question does not already say;
- the passage's rank and score, and the sentence's place in it.

The weights were fitted by logistic regression on SQuAD v1.1 dev questions of even-numbered articles
(``bench/answers.py --fit``); questions of odd-numbered articles are held out and reported separately.
A question whose best sentence scores below ``MIN_SCORE`` gets no answer.

Example::

    >>> answer, passages = pick_answer("When are apples harvested?", passages)
    >>> answer.text, passages[0].highlight
    ('Apples are harvested in autumn by hand.', (60, 99))
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from qa import cues
from qa.chunking import split_sentences
from qa.records import Answer, Passage

FEATURES = (
    "overlap", "overlap_gap", "overlap_prev", "pairs", "passage_overlap", "passage_overlap_gap",
    "cue_when", "cue_number", "cue_who", "cue_where", "novel", "rank_1", "passage_gap", "first", "short",
)
WEIGHTS = np.array([3.5, 2.9, 1.3, 0.5, 0.7, 0.6, 0.2, 0.3, 0.2, -1.0, 0.5, 5.5, 0, -0.7], dtype=np.float64)
BIAS = -2.0
MIN_SCORE = -1.5
MIN_WORDS = 3  # shorter "sentences" are headings, captions or list labels


@dataclass(frozen=True)
class Candidate:
    """A sentence of a passage: ``passages[passage].text[start:end] == text``."""

    passage: int
    start: int
    end: int
    text: str


# A "sentence" that ends in an initial or a common abbreviation ("Michael E.", "c.", "St.") goes on.
_ABBREVIATION = re.compile(
    r"(?:\b[A-Z]|\b(?:[Cc]a?|St|Mr|Mrs|Ms|Dr|Jr|Sr|Prof|Gen|Col|Lt|Sgt|Capt|Rev|Mt|Ft|No|Nos|vs|approx|"
    r"e\.g|i\.e|etc|Inc|Ltd|Co|Corp|[A-Z]\.[A-Z]))\.$"
)


def sentences(text: str) -> list[tuple[int, int]]:
    """``split_sentences`` with pieces cut after an abbreviation or initial joined to what follows."""
    spans: list[tuple[int, int]] = []
    for start, end in split_sentences(text):
        if spans and _ABBREVIATION.search(text, spans[-1][0], spans[-1][1]):
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans


def candidates(passages: Sequence[Passage], max_passages: int = 3) -> list[Candidate]:
    """Sentences of the top passages, each document sentence once (overlapping chunks share sentences)."""
    seen: set[tuple[str, int, int]] = set()
    found = []
    for i, passage in enumerate(passages[:max_passages]):
        for start, end in sentences(passage.text):
            key = (passage.doc_id, passage.start + start, passage.start + end)
            text = passage.text[start:end]
            if key in seen or len(cues.words(text)) < MIN_WORDS:
                continue
            seen.add(key)
            found.append(Candidate(i, start, end, text))
    return found


def local_idf(sentences: Sequence[set[str]]) -> dict[str, float]:
    """IDF over the candidate sentences (sets of stems): a word in every sentence tells them apart least."""
    df: dict[str, int] = {}
    for words in sentences:
        for w in words:
            df[w] = df.get(w, 0) + 1
    n = len(sentences)
    return {w: math.log((n + 1) / (d + 0.5)) for w, d in df.items()}


def features(question: str, passages: Sequence[Passage], found: Sequence[Candidate]) -> np.ndarray:
    """One row of ``FEATURES`` per candidate."""
    q_stems = set(cues.content_stems(question))
    q_pairs = _pairs(cues.content_stems(question))
    stems = [cues.content_stems(c.text) for c in found]
    sets = [set(s) for s in stems]
    idf = local_idf(sets)
    default_idf = math.log(len(found) + 1.5)  # a question word in no candidate: as rare as can be
    q_weight = sum(idf.get(w, default_idf) for w in q_stems) or 1.0

    def overlap(words: set[str]) -> float:
        return sum(idf.get(w, default_idf) for w in q_stems & words) / q_weight

    kind = cues.question_type(question)
    top_score = passages[0].score if passages else 0.0
    in_passage: dict[int, set[str]] = {}
    for cand, words in zip(found, sets, strict=True):
        in_passage.setdefault(cand.passage, set()).update(words)
    passage_overlap = {i: overlap(words) for i, words in in_passage.items()}
    best_passage = max(passage_overlap.values(), default=0.0)
    rows = np.zeros((len(found), len(FEATURES)), dtype=np.float64)
    for row, cand in enumerate(found):
        s_set = sets[row]
        passage = passages[cand.passage]
        prev = sets[row - 1] if row and found[row - 1].passage == cand.passage else set()
        cue = cues.has_cue(kind, cand.text, question)
        rows[row] = (
            overlap(s_set), 0.0, overlap(prev - s_set),
            len(q_pairs & _pairs(stems[row])) / len(q_pairs) if q_pairs else 0.0,
            passage_overlap[cand.passage], passage_overlap[cand.passage] - best_passage,
            cue and kind == "when", cue and kind == "number", cue and kind == "who", cue and kind == "where",
            len(s_set - q_stems) / len(s_set) if s_set else 0.0,
            cand.passage == 0, passage.score - top_score, cand.start == 0, len(stems[row]) < 5,
        )
    if len(found):
        column = rows[:, FEATURES.index("overlap")]
        rows[:, FEATURES.index("overlap_gap")] = column - column.max()
    return rows


def _pairs(stems: Sequence[str]) -> set[tuple[str, str]]:
    return set(zip(stems, stems[1:], strict=False))


def scores(rows: np.ndarray, weights: np.ndarray = WEIGHTS, bias: float = BIAS) -> np.ndarray:
    return rows @ weights + bias


def pick_answer(
    question: str,
    passages: Sequence[Passage],
    *,
    max_passages: int = 3,
    min_score: float = MIN_SCORE,
) -> tuple[Answer | None, tuple[Passage, ...]]:
    """The best sentence as an ``Answer`` (or None) and the passages, the answer's one with ``highlight`` set."""
    passages = tuple(passages)
    found = candidates(passages, max_passages)
    if not found:
        return None, passages
    score = scores(features(question, passages, found))
    best = int(np.argmax(score))  # ties: the earlier candidate (higher passage, earlier sentence) wins
    if score[best] < min_score:
        return None, passages
    cand = found[best]
    passage = passages[cand.passage]
    answer = Answer(
        text=cand.text, source=passage.source, path=passage.path, doc_id=passage.doc_id,
        start=passage.start + cand.start, end=passage.start + cand.end, score=round(float(score[best]), 6),
        passage_rank=passage.rank,
    )
    marked = tuple(replace(p, highlight=(cand.start, cand.end)) if i == cand.passage else p
                   for i, p in enumerate(passages))
    return answer, marked


_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """SQuAD's official normalisation: lower case, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def contains_answer(text: str, golds: Iterable[str]) -> bool:
    """Whether ``text`` holds one of the gold answers, both normalised, on word boundaries."""
    haystack = f" {normalize_answer(text)} "
    return any(f" {gold} " in haystack for gold in map(normalize_answer, golds) if gold)

