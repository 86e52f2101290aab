"""Pure: pick the sentence in the top passages that answers the question, and mark it in its passage.

No reader model or cross-encoder exists offline, so every sentence of the top ``max_passages`` passages is a
candidate, described by a few features (``FEATURES``) and scored by a logistic regression:

- overlap with the question: IDF-weighted share of its stemmed content words (IDF over the candidate sentences,
  so words every sentence shares count least), for the sentence, the sentence before it (answers often follow
  the sentence that names the subject), word pairs, and the whole passage;
- the question's type and whether the sentence holds that kind of thing (a year for "when", a figure for
  "how many", a name for "who", a place for "where") that the question does not already say;
- how much of the sentence is new (the answer is rarely made of the question's own words);
- the passage's rank and its score relative to the first passage's.

Why no sentence embeddings: on SQuAD they added about one point of accuracy, but embedding 5 sentences took 80 ms
on the 2-core CPU we measure on (15 took 290 ms), several times the 30 ms budget of a whole question; these
features cost about a millisecond.

``WEIGHTS`` were fitted by ``bench/fit_answers.py`` on SQuAD v1.1 dev questions of even-numbered articles with the
default (hybrid) retrieval; questions of odd-numbered articles are held out. ``Answer.score`` is the model's
probability that the sentence holds the answer; below ``MIN_SCORE`` there is no answer.

Example::

    >>> from qa.records import Passage
    >>> text = "The Danube rises in the Black Forest. The Danube flows through ten countries."
    >>> passage = Passage(rank=1, score=1.0, source="Rivers", title="Rivers", publisher=None, date=None,
    ...                   path="rivers.txt", doc_id="rivers.txt", chunk_id="rivers.txt::0", start=0, end=len(text),
    ...                   page=None, section=None, text=text)
    >>> answer, marked = pick_answer("How many countries does the Danube flow through?", [passage])
    >>> answer.text, marked[0].text[slice(*marked[0].highlight)]
    ('The Danube flows through ten countries.', 'The Danube flows through ten countries.')
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from qa.answer import cues
from qa.records import Answer, Passage
from qa.text import split_sentences

FEATURES = (
    "overlap", "overlap_gap", "overlap_prev", "pairs", "passage_overlap", "passage_overlap_gap",
    "cue_when", "cue_number", "cue_who", "cue_where", "novel", "rank_1", "passage_ratio", "first", "short",
)
# Fitted by bench/fit_answers.py (hybrid retrieval, k=5, even-numbered SQuAD dev articles), in FEATURES order.
WEIGHTS = np.array([3.989, 1.133, 1.064, 0.953, -1.432, 0.091, 0.608, 0.273, 0.304, 0.210, -1.521, 0.959, 2.935,
                    0.044, -0.746])
BIAS = -3.936
# Below this, no answer: it loses 1% of the right answers on the tuning half and turns away 56% of questions
# asked with their own article left out (nothing in the passages can answer them).
MIN_SCORE = 0.271
MAX_PASSAGES = 5  # as many as `qa ask` shows by default: the answer can come from any passage shown
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


# split_sentences only starts a sentence at an ASCII capital; this finds the ends before other capitals too.
_END_BEFORE_NON_ASCII = re.compile(r"([.!?][\"'”’)\]]*)\s+(?=[^\x00-\x7f])")


def sentences(text: str) -> list[tuple[int, int]]:
    """``split_sentences``, also split before a non-ASCII capital ("… року. Ünïcödé …"), with pieces cut after
    an abbreviation or an initial joined to what follows."""
    spans: list[tuple[int, int]] = []
    for start, end in _split_non_ascii(text, split_sentences(text)):
        if spans and _ABBREVIATION.search(text, spans[-1][0], spans[-1][1]):
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans


def _split_non_ascii(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out = []
    for start, end in spans:
        for match in _END_BEFORE_NON_ASCII.finditer(text, start, end):
            if text[match.end()].isupper():
                out.append((start, match.end(1)))
                start = match.end()
        out.append((start, end))
    return out


def candidates(passages: Sequence[Passage], max_passages: int = MAX_PASSAGES) -> list[Candidate]:
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


def local_idf(stem_sets: Sequence[set[str]]) -> dict[str, float]:
    """IDF over the candidate sentences (sets of stems): a word in every sentence tells them apart least."""
    df: dict[str, int] = {}
    for words in stem_sets:
        for w in words:
            df[w] = df.get(w, 0) + 1
    n = len(stem_sets)
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
            cand.passage == 0, passage.score / top_score if top_score > 0 else 1.0,
            cand.start == 0, len(stems[row]) < 5,
        )
    if len(found):
        column = rows[:, FEATURES.index("overlap")]
        rows[:, FEATURES.index("overlap_gap")] = column - column.max()
    return rows


def _pairs(stems: Sequence[str]) -> set[tuple[str, str]]:
    return set(zip(stems, stems[1:], strict=False))


def probabilities(rows: np.ndarray, weights: np.ndarray = WEIGHTS, bias: float = BIAS) -> np.ndarray:
    """The model's probability, per candidate, that the sentence holds the answer."""
    return 1.0 / (1.0 + np.exp(-(rows @ weights + bias)))


def pick_answer(
    question: str,
    passages: Sequence[Passage],
    *,
    max_passages: int = MAX_PASSAGES,
    min_score: float = MIN_SCORE,
) -> tuple[Answer | None, tuple[Passage, ...]]:
    """The best sentence as an ``Answer`` (or None) and the passages, the answer's one with ``highlight`` set."""
    passages = tuple(passages)
    found = candidates(passages, max_passages)
    if not found:
        return None, passages
    score = probabilities(features(question, passages, found))
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
