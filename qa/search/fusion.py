"""Pure: combine rankings from several retrievers, and pool chunk scores into document scores.

A *run* is a pair of arrays ``(ids, scores)``: the candidates one retriever returned, in any order. Every function
returns ``(ids, scores)`` sorted best first, ties broken by the smaller id, so results never depend on hash order.

Two fusions, as the literature offers them:
- ``blend``: normalise each run's scores (min-max or z-score over its candidates, or none when the caller has
  calibrated them already), then a weighted sum; a candidate missing from a run gets that run's lowest normalised
  score (it ranked below everything returned).
- ``rrf``: reciprocal-rank fusion, ``sum(weight / (rrf_k + rank))`` (Cormack et al. 2009); scale-free but blind to
  how far ahead the leader is, which costs rank-1 accuracy when one retriever is much surer than the other.

Example::

    >>> ids, scores = rrf([(np.array([7, 3]), np.array([2.0, 1.0])), (np.array([3]), np.array([0.5]))], rrf_k=60)
    >>> ids.tolist()
    [3, 7]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Run = tuple[np.ndarray, np.ndarray]


def ranked(ids: np.ndarray, scores: np.ndarray) -> Run:
    """Sort by score descending, then id ascending (deterministic ties)."""
    ids = np.asarray(ids, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    order = np.lexsort((ids, -scores))
    return ids[order], scores[order]


def top(ids: np.ndarray, scores: np.ndarray, depth: int) -> Run:
    """The ``depth`` best of ``ids`` (in any order), ranked; ties at the cut go to the smaller id, so the candidates
    kept never depend on how the rows were split (one index or shards).

    >>> top(np.array([1, 2, 5, 9]), np.array([0.5, 0.9, 0.5, 0.5]), 2)[0].tolist()
    [2, 1]
    """
    ids = np.asarray(ids, dtype=np.int64)
    scores = np.asarray(scores)
    if len(ids) > depth:
        cut = np.partition(scores, len(scores) - depth)[len(scores) - depth]  # the depth-th best score
        above = np.flatnonzero(scores > cut)
        tied = np.flatnonzero(scores == cut)
        tied = tied[np.argsort(ids[tied], kind="stable")][:depth - len(above)]
        keep = np.concatenate([above, tied])
        ids, scores = ids[keep], scores[keep]
    return ranked(ids, scores)


def normalise(scores: np.ndarray, method: str) -> np.ndarray:
    """Scores mapped to a common scale: ``minmax`` to [0, 1], ``zscore`` to mean 0 and unit spread, ``none`` as
    they are (already calibrated). A run whose scores are all equal carries no preference: it maps to zeros.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if len(scores) == 0 or method == "none":
        return scores
    if method == "minmax":
        spread = scores.max() - scores.min()
        return (scores - scores.min()) / spread if spread > 0 else np.zeros_like(scores)
    if method == "zscore":
        std = scores.std()
        return (scores - scores.mean()) / std if std > 0 else np.zeros_like(scores)
    raise ValueError(f"unknown normaliser {method!r}: use minmax, zscore or none")


def blend(runs: Sequence[Run], weights: Sequence[float], normaliser: str = "zscore") -> Run:
    """Weighted sum of normalised scores over the union of candidates."""
    if len(runs) != len(weights):
        raise ValueError(f"{len(runs)} runs but {len(weights)} weights: give one weight per run")
    all_ids = np.unique(np.concatenate([np.asarray(ids, dtype=np.int64) for ids, _ in runs] or [np.zeros(0, int)]))
    total = np.zeros(len(all_ids))
    for (ids, scores), weight in zip(runs, weights, strict=True):
        if len(ids) == 0:
            continue
        norm = normalise(scores, normaliser)
        column = np.full(len(all_ids), norm.min())
        column[np.searchsorted(all_ids, np.asarray(ids, dtype=np.int64))] = norm
        total += weight * column
    return ranked(all_ids, total)


def rrf(runs: Sequence[Run], rrf_k: int = 60, weights: Sequence[float] | None = None) -> Run:
    """Reciprocal-rank fusion; ranks come from each run's own score order."""
    weights = [1.0] * len(runs) if weights is None else list(weights)
    fused: dict[int, float] = {}
    for (ids, scores), weight in zip(runs, weights, strict=True):
        ordered, _ = ranked(ids, scores)
        for rank, item in enumerate(ordered.tolist(), 1):
            fused[item] = fused.get(item, 0.0) + weight / (rrf_k + rank)
    return ranked(np.fromiter(fused, dtype=np.int64, count=len(fused)), np.fromiter(fused.values(), dtype=float))


def pool(ids: np.ndarray, scores: np.ndarray, groups: np.ndarray, how: str = "max") -> tuple[Run, np.ndarray]:
    """Chunk scores -> group (document) scores; ``groups[id]`` is the group of candidate ``id``.

    Returns the ranked ``(group_ids, group_scores)`` and, per group, the id of its best chunk (its passage).
    ``max`` keeps the best chunk's score; ``sum`` adds them (favours documents with many matching chunks).
    """
    ids, scores = ranked(ids, scores)
    if len(ids) == 0:
        return (ids, scores), ids
    owner = np.asarray(groups)[ids]
    unique, first = np.unique(owner, return_index=True)  # first: the best chunk, since ids are ranked
    if how == "max":
        group_scores = scores[first]
    elif how == "sum":
        group_scores = np.zeros(len(unique))
        np.add.at(group_scores, np.searchsorted(unique, owner), scores)
    else:
        raise ValueError(f"unknown pooling {how!r}: use max or sum")
    order = np.lexsort((unique, -group_scores))
    return (unique[order].astype(np.int64), group_scores[order]), ids[first][order]
