"""Answering across shards: every shard searched (dense and lexical), the candidates merged, then as one index.

A question fans out to every shard of a sharded generation (``qa.index.shards``). Each shard returns its best
``depth`` rows of each run, in generation row numbers, with what calibration needs (the BM25 score of its dense
candidates, the cosine of its lexical ones, the moments of its BM25 scores). Merged, these are exactly the
candidates and scores one index over all rows would have found: the global best ``depth`` of a run are among the
shards' best ``depth``, ties are cut by row number on both paths (``fusion.top``), BM25 scores and the dense
calibration are the corpus's. Fusion, grouping, duplicate collapsing and the answer then run as for one index.

Where the shards run is the ``Fanout``'s business: ``LocalFanout`` searches them in this process; the cluster's
(``qa.cluster``) asks one Ray actor per shard. A shard that does not answer is named in ``Found.missing`` (the
documents it holds), never left out in silence; a shard's answer from another generation is refused alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from qa.errors import ClusterError
from qa.index import store, vector_index
from qa.index.calibration import DenseStats
from qa.index.lexical import LexicalIndex
from qa.index.manifest import ShardEntry
from qa.search.filters import Filters
from qa.search.fusion import Run, top
from qa.search.searcher import Found, Searcher
from qa.settings import MODES, RetrievalSettings


@dataclass(frozen=True)
class Moments:
    """Count, mean and sum of squared deviations of a shard's BM25 scores over all its rows (Chan et al.'s
    parallel variance: shards combine into the corpus's mean and spread)."""

    count: int
    mean: float
    m2: float

    @classmethod
    def of(cls, scores: np.ndarray) -> Moments:
        scores = np.asarray(scores, dtype=np.float64)
        mean = scores.mean() if len(scores) else 0.0
        return cls(len(scores), float(mean), float(((scores - mean) ** 2).sum()))

    @staticmethod
    def combined(parts: Sequence[Moments]) -> Moments:
        if len(parts) == 1:  # as computed: the z-scores of one shard are bit for bit those of one index
            return parts[0]
        count = sum(p.count for p in parts)
        mean = sum(p.count * p.mean for p in parts) / count if count else 0.0
        return Moments(count, mean, sum(p.m2 + p.count * (p.mean - mean) ** 2 for p in parts))

    def zscores(self, scores: np.ndarray) -> np.ndarray:
        """As ``calibration.zscores`` over every row (zeros when all scores are equal)."""
        centred = np.asarray(scores, dtype=np.float64) - self.mean
        std = np.sqrt(self.m2 / self.count) if self.count else 0.0
        return centred / std if std > 0 else np.zeros_like(centred)


@dataclass(frozen=True)
class Request:
    """One round of a question, as every shard gets it."""

    question: str
    vector: np.ndarray | None
    depth: int
    mode: str
    filters: Filters | None
    generation: str


@dataclass(frozen=True)
class Candidates:
    """One shard's answer to a ``Request``: its best rows of each run (generation row numbers)."""

    generation: str
    dense: Run  # (rows, cosines)
    dense_bm25: np.ndarray | None  # BM25 score of each dense row (None unless lexical scores were asked for)
    lexical: Run | None  # (rows, BM25 scores)
    lexical_cosines: np.ndarray | None  # cosine of each lexical row (hybrid only)
    moments: Moments | None  # of the shard's BM25 scores over all its rows
    available: int  # rows the filters allow


class ShardSearch:
    """One shard, loaded: searched on its own, answering in generation row numbers."""

    def __init__(self, data: store.IndexData, entry: ShardEntry):
        self.entry = entry
        lexical = LexicalIndex.load(data.path, chunks=len(data.chunks))
        self.searcher = Searcher(data, lexical, DenseStats(np.zeros(0), np.zeros((0, 0))))  # calibrated above

    def candidates(self, request: Request) -> Candidates:
        searcher, first = self.searcher, self.entry.first_row
        allowed = searcher.row_mask(request.filters)
        available = len(searcher.data.chunks) if allowed is None else int(allowed.sum())
        dense: Run = (np.zeros(0, np.int64), np.zeros(0))
        bm25 = lexical = cosines = moments = dense_bm25 = None
        if request.mode in ("dense", "hybrid"):
            dense = searcher.dense(request.vector, request.depth, allowed)
        if request.mode in ("lexical", "hybrid"):
            bm25 = searcher.lexical.scores(request.question)
            lexical = searcher.lexical_run(bm25, request.depth, allowed)
            moments, dense_bm25 = Moments.of(bm25), bm25[dense[0]]
        if request.mode == "hybrid" and lexical is not None:
            # the same fp16 copy and product as one index's calibration (``Searcher._calibrated``)
            cosines = vector_index.vectors_of(searcher.data.faiss_index, lexical[0]) @ request.vector
        return Candidates(
            generation=searcher.data.generation, dense=(dense[0] + first, dense[1]), dense_bm25=dense_bm25,
            lexical=None if lexical is None else (lexical[0] + first, lexical[1]), lexical_cosines=cosines,
            moments=moments, available=available)


class Fanout(Protocol):
    """Where the shards are searched: one answer per shard, in shard order, None where a shard did not answer."""

    def ask(self, request: Request) -> list[Candidates | None]: ...


class LocalFanout:
    """Every shard searched in this process, one after the other."""

    def __init__(self, shards: Sequence[ShardSearch]):
        self.shards = list(shards)

    def ask(self, request: Request) -> list[Candidates | None]:
        return [shard.candidates(request) for shard in self.shards]


class ShardedSearcher(Searcher):
    """A sharded generation searched as one index: ``data`` holds every document and chunk row (for passages,
    grouping and duplicates), the shards' FAISS and BM25 indexes are behind ``fanout``."""

    def __init__(self, data: store.IndexData, dense_stats: DenseStats, fanout: Fanout):
        super().__init__(data, None, dense_stats)  # type: ignore[arg-type]  # BM25 lives in the shards
        self.fanout = fanout

    @classmethod
    def local(cls, data: store.IndexData) -> ShardedSearcher:
        """A loaded sharded generation (``store.load``), every shard searched in this process."""
        shards = [ShardSearch(part, entry) for part, entry in zip(data.shards, data.manifest.shards, strict=True)]
        return cls(data, DenseStats.load(data.path, dim=int(data.manifest.model.dim)), LocalFanout(shards))

    def find(self, question: str, vector: np.ndarray | None, k: int, *, mode: str, settings: RetrievalSettings,
             filters: Filters | None = None, boost_docs: Sequence[str] = (), boost: float = 0.0) -> Found:
        missing: set[int] = set()
        runs_at = self._fanned_runs(question, vector, mode, filters, settings, missing)
        hits = self.deepening(runs_at, k, settings, boost_docs, boost)
        return Found(hits, tuple(self.describe(s) for s in sorted(missing)))

    def ranked_in_full(self, question: str, vector: np.ndarray, rows: np.ndarray,
                       settings: RetrievalSettings) -> tuple[dict[str, Run], np.ndarray, np.ndarray]:
        """As ``Searcher.ranked_in_full``, from one hybrid request to every shard at full depth (its dense and
        lexical runs are what a dense or a lexical request returns); NaN for a cosine an approximate shard index did
        not reach. Refused, by name, when a shard does not answer."""
        depth = len(self.data.chunks)
        missing: set[int] = set()
        answers = self._answers(Request(question, vector, depth, "hybrid", None, self.data.generation), missing)
        if missing:
            raise ClusterError(f"{'; '.join(self.describe(s) for s in sorted(missing))} did not answer, and an "
                               "explanation needs every shard: ask again once it is back")
        calibrate = settings.normaliser == "corpus"
        runs = {mode: self._fuse(merged(answers, depth, mode, vector, self.dense_stats if calibrate and
                                        mode == "hybrid" else None)[0], settings) for mode in MODES}
        cosines = _lookup([a.dense for a in answers] + [(a.lexical[0], a.lexical_cosines) for a in answers],
                          default=np.nan)(rows)
        bm25 = _lookup([(a.dense[0], a.dense_bm25) for a in answers] + [a.lexical for a in answers],
                       default=0.0)(rows)  # a row in no lexical run matches no word of the question
        return runs, cosines, bm25

    def _fanned_runs(self, question: str, vector: np.ndarray | None, mode: str, filters: Filters | None,
                     settings: RetrievalSettings, missing: set[int]) -> Callable[[int], tuple[list[Run], bool, int]]:
        """``deepening``'s ``runs_at`` over the shards: their candidates merged at each depth, the shards that did
        not answer added to ``missing``."""
        calibrate = mode == "hybrid" and settings.normaliser == "corpus"

        def runs_at(depth: int) -> tuple[list[Run], bool, int]:
            answers = self._answers(Request(question, vector, depth, mode, filters, self.data.generation), missing)
            return merged(answers, depth, mode, vector, self.dense_stats if calibrate else None)

        return runs_at

    def _answers(self, request: Request, missing: set[int]) -> list[Candidates]:
        """The shards' answers to ``request``; the shards that did not answer, or answered from another generation
        (never a question answered from two), are added to ``missing``."""
        got = []
        for s, answer in enumerate(self.fanout.ask(request)):
            if answer is None or answer.generation != self.data.generation:
                missing.add(s)
            else:
                got.append(answer)
        return got

    def describe(self, shard: int) -> str:
        """The part of the corpus shard ``shard`` holds, in words a user can act on."""
        entry = self.data.manifest.shards[shard]
        docs = self.data.documents[entry.first_document:entry.first_document + entry.documents]
        names = sorted({doc.source if len(doc.source) <= 60 else doc.source[:59] + "…" for doc in docs})
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        return (f"shard {shard + 1} of {len(self.data.manifest.shards)} ({entry.documents:,} documents, "
                f"{entry.chunks:,} passages: {shown})")


def merged(answers: Sequence[Candidates], depth: int, mode: str, vector: np.ndarray | None,
           dense_stats: DenseStats | None) -> tuple[list[Run], bool, int]:
    """The shards' candidates as one index's runs at ``depth`` (calibrated when ``dense_stats`` is given), whether
    a run was cut at ``depth``, and the rows the filters allow."""
    runs: list[Run] = []
    dense = lexical = None
    if mode in ("dense", "hybrid"):
        dense = top(*_joined([a.dense for a in answers]), depth)
        runs.append(dense)
    if mode in ("lexical", "hybrid"):
        lexical = top(*_joined([a.lexical for a in answers if a.lexical is not None]), depth)
        runs.append(lexical)
    truncated = any(len(run[0]) >= depth for run in runs)
    available = sum(a.available for a in answers)
    if dense_stats is None or dense is None or lexical is None:
        return runs, truncated, available
    bm25_of = _lookup([(a.dense[0], a.dense_bm25) for a in answers] + [a.lexical for a in answers])
    cosine_of = _lookup([(a.lexical[0], a.lexical_cosines) for a in answers])
    union = np.union1d(dense[0], lexical[0])
    extra = np.setdiff1d(lexical[0], dense[0])
    dense_rows, dense_scores = np.concatenate([dense[0], extra]), np.concatenate([dense[1], cosine_of(extra)])
    bm25_z = Moments.combined([a.moments for a in answers]).zscores(bm25_of(union))
    return [(dense_rows, dense_stats.zscores(vector, dense_scores)), (union, bm25_z)], truncated, available


def _joined(runs: Sequence[Run]) -> Run:
    if not runs:
        return np.zeros(0, np.int64), np.zeros(0)
    return np.concatenate([r[0] for r in runs]), np.concatenate([np.asarray(r[1], np.float64) for r in runs])


def _lookup(pairs: Sequence[tuple[np.ndarray, np.ndarray]], *,
            default: float | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """rows -> values, from (rows, values) pairs that agree wherever they share a row; a row in none of them gets
    ``default`` (None: every row asked for is in one)."""
    rows, values = _joined(pairs)
    order = np.argsort(rows, kind="stable")
    rows, values = rows[order], values[order]
    if default is None:
        return lambda wanted: values[np.searchsorted(rows, wanted)]

    def of(wanted: np.ndarray) -> np.ndarray:
        if not len(rows):
            return np.full(len(wanted), default, np.float64)
        at = np.minimum(np.searchsorted(rows, wanted), len(rows) - 1)
        return np.where(rows[at] == wanted, values[at], default)

    return of
