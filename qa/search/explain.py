"""Why wasn't this found? Where one document's best passage ranks for a question in each mode, and what hid it.

For each mode (dense, lexical, hybrid) every chunk is ranked with the searcher's own runs at full depth, without
filters or duplicate collapsing, then pooled to one passage per document as ``ask`` does: the document's rank
there is where it stands on relevance alone. Then ``ask``'s own search, with the filters, says whether it would be
shown at that depth, or was left out by a filter (which one) or collapsed into another document that holds the
same text. The dense and lexical scores given are those of the document's best passage in that mode: its cosine
with the question and its BM25 score (0: no word of the question is in it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from qa.search.filters import Filters
from qa.search.fusion import Run, pool
from qa.search.searcher import Searcher
from qa.settings import MODES, RetrievalSettings


@dataclass(frozen=True)
class ModeExplanation:
    """One mode's view of the document: ``rank`` among ``ranked`` documents (None: this mode did not retrieve
    it), its best passage, that passage's scores, and what ``ask`` made of it (``ask_rank``, ``collapsed_into``).
    """

    mode: str
    rank: int | None
    ranked: int
    chunk_id: str | None = None
    start: int | None = None
    end: int | None = None
    score: float | None = None  # the mode's own score (hybrid: the fused one)
    dense_score: float | None = None  # cosine of the passage with the question (None: an approximate shard
    # index did not reach the passage)
    lexical_score: float | None = None  # BM25 of the passage
    ask_rank: int | None = None  # its rank in `qa ask`'s results, filters and collapsing applied; None: not there
    collapsed_into: str | None = None  # the document its text was collapsed into, as a duplicate

    def shown(self, k: int) -> bool:
        """Whether ``ask`` shows it among ``k`` passages."""
        return self.ask_rank is not None and self.ask_rank <= k


@dataclass(frozen=True)
class Explanation:
    question: str
    doc_id: str
    title: str
    filtered_out: str | None  # the filter that leaves the document out, or None
    modes: tuple[ModeExplanation, ...]
    k: int  # how many passages `ask` shows

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "modes": [asdict(m) for m in self.modes]}


def filter_refusal(filters: Filters | None, doc: Any) -> str | None:
    """Which filter leaves ``doc`` out (``"source contains 'wilson'"``), or None when it passes them all."""
    if filters is None or filters.matches(doc):
        return None
    checks = [("source", Filters(source=filters.source), f"source contains {filters.source!r}"),
              ("path", Filters(path=filters.path), f"path matches {filters.path!r}"),
              ("date", Filters(date_from=filters.date_from, date_to=filters.date_to),
               f"dated {filters.date_from or '...'} to {filters.date_to or '...'}")]
    return next(what for _, only, what in checks if only.active and not only.matches(doc))


def explain(searcher: Searcher, question: str, vector: np.ndarray, doc_index: int, settings: RetrievalSettings,
            filters: Filters | None = None, k: int = 5) -> Explanation:
    """Where document ``doc_index`` of the searcher's generation stands for ``question`` (its vector given) in
    every mode; ``k`` is how many passages ``ask`` would show."""
    data = searcher.data
    doc = data.documents[doc_index]
    rows_of_doc = np.flatnonzero(data.chunks.doc == doc_index)
    runs, cosines, bm25 = searcher.ranked_in_full(question, vector, rows_of_doc, settings)
    scores = {row: (cosine, lexical) for row, cosine, lexical in zip(rows_of_doc.tolist(), cosines.tolist(),
                                                                      bm25.tolist(), strict=True)}
    modes = tuple(_mode(searcher, question, vector, mode, runs[mode], doc_index, scores, settings, filters, k)
                  for mode in MODES)
    return Explanation(question, doc.doc_id, doc.title, filter_refusal(filters, doc), modes, k)


def _mode(searcher: Searcher, question: str, vector: np.ndarray, mode: str, run: Run, doc_index: int,
          scores_of_row: dict[int, tuple[float, float]], settings: RetrievalSettings, filters: Filters | None,
          k: int) -> ModeExplanation:
    data = searcher.data
    (docs, scores), best_rows = pool(*run, data.chunks.doc, "max")
    where = np.flatnonzero(docs == doc_index)
    if not len(where):
        return ModeExplanation(mode, None, len(docs))
    position, row = int(where[0]), int(best_rows[where[0]])
    chunk = data.chunk(row)
    # what `ask` shows at a depth that reaches this rank: filters and collapsing only ever move it up
    hits = searcher.search(question, vector if mode != "lexical" else None, max(position + 1, k), mode=mode,
                           settings=settings, filters=filters)
    shown = next((r for r, hit in enumerate(hits, 1) if int(data.chunks.doc[hit.row]) == doc_index), None)
    into = next((data.documents[int(data.chunks.doc[hit.row])].doc_id for hit in hits if doc_index in hit.also_in),
                None)
    cosine, lexical = scores_of_row[row]
    return ModeExplanation(mode, position + 1, len(docs), chunk.chunk_id, chunk.start, chunk.end,
                           round(float(scores[position]), 6), None if np.isnan(cosine) else round(cosine, 6),
                           round(lexical, 6), shown, into)
