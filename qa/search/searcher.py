"""Search one loaded generation: dense (FAISS), lexical (BM25) or hybrid, grouped by document, filtered.

The pipeline for one question, given its vector (the caller owns the model and embeds; nothing here does)::

    filters -> row mask -> dense run + lexical run (top ``depth`` chunks each)
            -> scores calibrated against the whole corpus (qa.index.calibration) -> fusion (qa.search.fusion)
            -> one passage per document (its best chunk) -> collapse republished text (qa.search.grouping) -> k hits

Filters are applied before search (FAISS's ID selector, a mask on the BM25 scores), and the depth grows until k
documents come back or every matching chunk has been seen, so a narrow filter or a long document never leaves the
result short.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.index import store, vector_index
from qa.index.calibration import DenseStats, zscores
from qa.index.lexical import LexicalIndex
from qa.search.filters import Filters
from qa.search.fusion import Run, blend, pool, ranked, rrf, top
from qa.search.grouping import Fingerprint, collapse_duplicates, fingerprint
from qa.settings import MODES, RetrievalSettings

PRINT_CACHE_BYTES = 32 * 2**20  # fingerprints of documents shown, kept per generation


def return_freed_memory() -> None:
    """Hand the heap pages freed while loading back to the system (glibc's ``malloc_trim``; elsewhere nothing).

    subtle: parsing the documents and BM25's vocabulary from JSON leaves freed fragments that glibc keeps for
    reuse, about 2 MB of SciFact's 26 MB loaded index, and a server reloads on every rebuild.
    """
    import contextlib
    import ctypes
    import ctypes.util

    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim this way
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)


@dataclass(frozen=True)
class Hit:
    """A chunk row chosen for the answer, its score, and the documents whose same text was collapsed into it."""

    row: int
    score: float
    also_in: tuple[int, ...] = ()


@dataclass(frozen=True)
class Found:
    """A search's hits, and the parts of the corpus it could not search (shards that did not answer in time)."""

    hits: list[Hit]
    missing: tuple[str, ...] = ()


class Searcher:
    """A generation's vectors and BM25 index, loaded together so a reload swaps both at once."""

    def __init__(self, data: store.IndexData, lexical: LexicalIndex, dense_stats: DenseStats):
        self.data = data
        self.lexical = lexical
        self.dense_stats = dense_stats
        # Fingerprints for duplicate checks. A document's costs time in proportion to its length (a long report:
        # milliseconds), so those of documents shown are kept, by text (copies share one), up to
        # PRINT_CACHE_BYTES in all: capped by bytes, not entries, as one long report's print can outweigh
        # thousands of abstracts'. A chunk's takes ~40 us and is made when needed, once per text per question.
        from cachetools import LRUCache, cached

        self._doc_rows: dict[str, int] | None = None  # document id -> position, made on the first boost
        self.print_cache = LRUCache(maxsize=PRINT_CACHE_BYTES, getsizeof=lambda fp: fp.nbytes)
        self._document_print = cached(self.print_cache, key=lambda d: self.data.documents[d].text,
                                      lock=threading.Lock())(lambda d: fingerprint(self.data.documents[d].text))

    @classmethod
    def load(cls, index_dir: Path) -> Searcher:
        return cls.from_data(store.load(index_dir))

    @classmethod
    def from_data(cls, data: store.IndexData) -> Searcher:
        """A loaded generation with its BM25 index and calibration (a sharded one: ``shards.ShardedSearcher``)."""
        if data.shards:
            from qa.search.shards import ShardedSearcher

            return ShardedSearcher.local(data)
        searcher = cls(data, LexicalIndex.load(data.path, chunks=len(data.chunks)),
                       DenseStats.load(data.path, dim=int(data.manifest.model.dim)))
        return_freed_memory()
        return searcher

    def chunk_text(self, row: int) -> str:
        chunks = self.data.chunks
        return self.data.documents[chunks.doc[row]].text[chunks.start[row]:chunks.end[row]]

    def row_mask(self, filters: Filters | None) -> np.ndarray | None:
        """Chunk rows the filters allow, or None for no filter."""
        if filters is None or not filters.active:
            return None
        return filters.document_mask(self.data.documents)[self.data.chunks.doc]

    def dense(self, vector: np.ndarray, depth: int, allowed: np.ndarray | None) -> Run:
        import faiss

        params = None
        if allowed is not None:
            selector = faiss.IDSelectorBatch(np.flatnonzero(allowed).astype(np.int64))
            params = vector_index.restricted(self.data.faiss_index, selector)
        depth = min(depth, len(self.data.chunks))
        scores, rows = self.data.faiss_index.search(np.asarray(vector, np.float32).reshape(1, -1), depth,
                                                    params=params)
        keep = rows[0] >= 0
        return rows[0][keep].astype(np.int64), scores[0][keep].astype(np.float64)

    def lexical_run(self, scores: np.ndarray, depth: int, allowed: np.ndarray | None) -> Run:
        """The top ``depth`` rows of precomputed BM25 ``scores``; rows matching no question word are left out."""
        usable = scores > 0 if allowed is None else (scores > 0) & allowed
        rows = np.flatnonzero(usable)
        return top(rows, scores[rows], depth)

    def search(self, question: str, vector: np.ndarray | None, k: int, *, mode: str, settings: RetrievalSettings,
               filters: Filters | None = None, boost_docs: Sequence[str] = (), boost: float = 0.0) -> list[Hit]:
        """The k best documents' best chunks; the chunks of ``boost_docs`` (document ids) get ``boost`` times the
        candidates' score spread added (the documents a conversation's previous answer cited)."""
        return self.find(question, vector, k, mode=mode, settings=settings, filters=filters, boost_docs=boost_docs,
                         boost=boost).hits

    def find(self, question: str, vector: np.ndarray | None, k: int, *, mode: str, settings: RetrievalSettings,
             filters: Filters | None = None, boost_docs: Sequence[str] = (), boost: float = 0.0) -> Found:
        """``search``'s hits, with the parts of the corpus that were not searched (none for one index)."""
        allowed = self.row_mask(filters)
        available = len(self.data.chunks) if allowed is None else int(allowed.sum())
        vector = vector if mode in ("dense", "hybrid") else None
        bm25 = self.lexical.scores(question) if mode in ("lexical", "hybrid") else None
        calibrate = mode == "hybrid" and settings.normaliser == "corpus"
        bm25_z = zscores(bm25) if calibrate else None

        def runs_at(depth: int) -> tuple[list[Run], bool, int]:
            return (*self._runs(vector, bm25, bm25_z, depth, allowed), available)

        return Found(self.deepening(runs_at, k, settings, boost_docs, boost))

    def deepening(self, runs_at: Callable[[int], tuple[list[Run], bool, int]], k: int,
                  settings: RetrievalSettings, boost_docs: Sequence[str] = (), boost: float = 0.0) -> list[Hit]:
        """The k hits from the runs ``runs_at(depth)`` gives (candidates, whether a run was cut at ``depth``, rows
        the filters allow), fused and ``boost``ed (``_boosted``), the depth growing until k documents come back or
        every allowed row has been seen."""
        depth = max(settings.depth, 3 * k)
        while True:
            runs, truncated, available = runs_at(depth)
            hits = self._select(self._boosted(self._fuse(runs, settings), boost_docs, boost), k, settings)
            if len(hits) >= k or not truncated or depth >= available:
                return hits
            depth *= 4

    def chunk_run(self, vector: np.ndarray | None, bm25: np.ndarray | None, bm25_z: np.ndarray | None, depth: int,
                  allowed: np.ndarray | None, settings: RetrievalSettings) -> tuple[Run, bool]:
        """Chunk rows ranked best first by the mode these arguments make: dense with ``vector``, lexical with
        ``bm25`` (every chunk's BM25 score), hybrid with both, calibrated when ``bm25_z`` is given; the top
        ``depth`` of each, and whether either was cut at that depth."""
        runs, truncated = self._runs(vector, bm25, bm25_z, depth, allowed)
        return self._fuse(runs, settings), truncated

    def ranked_in_full(self, question: str, vector: np.ndarray, rows: np.ndarray,
                       settings: RetrievalSettings) -> tuple[dict[str, Run], np.ndarray, np.ndarray]:
        """What ``qa explain`` reads: in each mode, every chunk row it retrieves, best first, scored as ``find``
        scores them (fused, calibrated for the corpus normaliser), with no filter and no depth limit; and each of
        ``rows``' cosine with ``vector`` and BM25 score for ``question`` (0: no word of it)."""
        bm25 = self.lexical.scores(question)
        calibrated = zscores(bm25) if settings.normaliser == "corpus" else None
        runs = {mode: self.chunk_run(vector if mode != "lexical" else None, bm25 if mode != "dense" else None,
                                     calibrated if mode == "hybrid" else None, len(self.data.chunks), None,
                                     settings)[0] for mode in MODES}
        cosines = vector_index.vectors_of(self.data.faiss_index, rows) @ vector
        return runs, cosines.astype(np.float64), bm25[rows]

    def _runs(self, vector: np.ndarray | None, bm25: np.ndarray | None, bm25_z: np.ndarray | None, depth: int,
              allowed: np.ndarray | None) -> tuple[list[Run], bool]:
        """``chunk_run``'s runs before they are fused: dense, lexical or both (calibrated when ``bm25_z`` is
        given), and whether either was cut at ``depth``."""
        runs, truncated = [], False
        if vector is not None:
            runs.append(self.dense(vector, depth, allowed))
            truncated |= len(runs[-1][0]) >= depth
        if bm25 is not None:
            runs.append(self.lexical_run(bm25, depth, allowed))
            truncated |= len(runs[-1][0]) >= depth
        if bm25_z is not None and vector is not None:
            runs = self._calibrated(runs, vector, bm25_z)
        return runs, truncated

    def _calibrated(self, runs: list[Run], vector: np.ndarray, bm25_z: np.ndarray) -> list[Run]:
        """Both runs over the union of their candidates, as z-scores against the whole corpus.

        Every chunk's BM25 score is known; a lexical candidate outside the dense top gets its cosine from its
        vector in the index (the same fp16 copy the dense run scored), so no candidate is scored by a guess on
        either side.
        """
        (dense_rows, dense_scores), (lexical_rows, _) = runs
        union = np.union1d(dense_rows, lexical_rows)
        extra = np.setdiff1d(lexical_rows, dense_rows)
        if len(extra):
            dense_rows = np.concatenate([dense_rows, extra])
            extra_vectors = vector_index.vectors_of(self.data.faiss_index, extra)
            dense_scores = np.concatenate([dense_scores, extra_vectors @ vector])
        return [(dense_rows, self.dense_stats.zscores(vector, dense_scores)), (union, bm25_z[union])]

    def _boosted(self, run: Run, boost_docs: Sequence[str], boost: float) -> Run:
        """``run`` with ``boost`` standard deviations of its scores added to the chunks of ``boost_docs``.

        subtle: in units of the spread, so one boost means the same in every mode (cosines, BM25, z-scores)."""
        rows, scores = run
        if not boost or not len(boost_docs) or len(rows) < 2:
            return run
        if self._doc_rows is None:
            self._doc_rows = {doc.doc_id: i for i, doc in enumerate(self.data.documents)}
        boosted = np.fromiter((self._doc_rows[d] for d in boost_docs if d in self._doc_rows), np.int64)
        lifted = np.isin(self.data.chunks.doc[rows], boosted)
        return ranked(rows, scores + lifted * (boost * float(np.std(scores))))

    @staticmethod
    def _fuse(runs: list[Run], settings: RetrievalSettings) -> Run:
        if len(runs) == 1:
            return ranked(*runs[0])
        weights = [settings.dense_weight, 1 - settings.dense_weight]
        if settings.fusion == "rrf":
            return rrf(runs, settings.rrf_k, weights=[2 * w for w in weights])
        # "corpus": the runs already hold z-scores against the whole corpus (qa.index.calibration)
        return blend(runs, weights, "none" if settings.normaliser == "corpus" else settings.normaliser)

    def _select(self, run: Run, k: int, settings: RetrievalSettings) -> list[Hit]:
        """Best chunk per document (when grouping), then republished text collapsed, k at most."""
        rows, scores = run
        if settings.group_documents:
            (_, scores), rows = pool(rows, scores, self.data.chunks.doc, "max")
        score_of = dict(zip(rows.tolist(), scores.tolist(), strict=True))
        doc_of = self.data.chunks.doc
        # Copies of one text (a wire story in twenty papers) are common among candidates: each distinct text is
        # fingerprinted once per question.
        prints: dict[str, Fingerprint] = {}

        def chunk_print(row: int) -> Fingerprint:
            text = self.chunk_text(row)
            if text not in prints:
                prints[text] = fingerprint(text)
            return prints[text]

        candidates = ((row, int(doc_of[row]), chunk_print(row)) for row in rows.tolist())
        kept = collapse_duplicates(candidates, self._document_print, settings.dedupe_containment, k)
        return [Hit(row, score_of[row], tuple(dupes)) for row, dupes in kept]
