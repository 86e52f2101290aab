"""Fusion and pooling against brute-force references written the obvious way, in plain Python."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.search.fusion import blend, normalise, pool, ranked, rrf


def _run(draw_ids, draw_scores):
    ids = np.array(sorted(set(draw_ids)), dtype=np.int64)
    return ids, np.array(draw_scores[: len(ids)] + [0.0] * (len(ids) - len(draw_scores)), dtype=float)


runs = st.lists(
    st.tuples(st.lists(st.integers(0, 30), max_size=12),
              st.lists(st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0, 3.25, -1.0]), max_size=12)),
    min_size=1, max_size=3,
).map(lambda pairs: [_run(ids, scores) for ids, scores in pairs])


def _order(scores: dict[int, float]) -> list[tuple[int, float]]:
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def _ref_normalise(values: list[float], method: str) -> list[float]:
    if method == "minmax":
        low, high = min(values), max(values)
        return [(v - low) / (high - low) if high > low else 0.0 for v in values]
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    return [(v - mean) / std if std > 0 else 0.0 for v in values]


def _ref_rrf(runs, rrf_k, weights):
    fused: dict[int, float] = {}
    for (ids, scores), weight in zip(runs, weights, strict=True):
        order = sorted(zip(ids.tolist(), scores.tolist(), strict=True), key=lambda p: (-p[1], p[0]))
        for rank, (item, _) in enumerate(order, 1):
            fused[item] = fused.get(item, 0.0) + weight / (rrf_k + rank)
    return _order(fused)


def _ref_blend(runs, weights, method):
    union = sorted({i for ids, _ in runs for i in ids.tolist()})
    fused = dict.fromkeys(union, 0.0)
    for (ids, scores), weight in zip(runs, weights, strict=True):
        if not len(ids):
            continue
        norm = dict(zip(ids.tolist(), _ref_normalise(scores.tolist(), method), strict=True))
        floor = min(norm.values())
        for item in union:
            fused[item] += weight * norm.get(item, floor)
    return _order(fused)


def _pairs(run):
    return list(zip(run[0].tolist(), run[1].tolist(), strict=True))


@settings(max_examples=200, deadline=None)
@given(runs=runs, rrf_k=st.integers(1, 100))
def test_rrf_matches_reference(runs, rrf_k) -> None:
    weights = [1.0, 0.5, 2.0][: len(runs)]
    got = _pairs(rrf(runs, rrf_k, weights))
    want = _ref_rrf(runs, rrf_k, weights)
    assert [i for i, _ in got] == [i for i, _ in want]
    assert np.allclose([s for _, s in got], [s for _, s in want])


@settings(max_examples=200, deadline=None)
@given(runs=runs, method=st.sampled_from(["minmax", "zscore"]))
def test_blend_matches_reference(runs, method) -> None:
    weights = [0.3, 0.7, 1.0][: len(runs)]
    got = _pairs(blend(runs, weights, method))
    want = _ref_blend(runs, weights, method)
    assert np.allclose([s for _, s in got], [s for _, s in want])
    # ids agree wherever scores are not tied within float noise
    for (gi, gs), (wi, ws) in zip(got, want, strict=True):
        assert gi == wi or math.isclose(gs, ws, abs_tol=1e-9)


@settings(max_examples=200, deadline=None)
@given(runs=runs, how=st.sampled_from(["max", "sum"]))
def test_pool_matches_reference(runs, how) -> None:
    ids, scores = runs[0]
    groups = np.arange(31) // 3  # chunks 0-2 belong to document 0, 3-5 to document 1, ...
    (docs, doc_scores), best = pool(ids, scores, groups, how)
    by_doc: dict[int, list[tuple[float, int]]] = {}
    for i, s in zip(ids.tolist(), scores.tolist(), strict=True):
        by_doc.setdefault(int(groups[i]), []).append((s, i))
    want = {d: (max(v)[0] if how == "max" else sum(s for s, _ in v)) for d, v in by_doc.items()}
    expected = _order(want)
    assert docs.tolist() == [d for d, _ in expected]
    assert np.allclose(doc_scores, [s for _, s in expected])
    for doc, chunk in zip(docs.tolist(), best.tolist(), strict=True):
        top = min(by_doc[doc], key=lambda p: (-p[0], p[1]))  # best score, then the smaller id
        assert chunk == top[1]


def test_ties_break_by_smaller_id() -> None:
    ids, _ = ranked(np.array([9, 2, 5]), np.array([1.0, 1.0, 1.0]))
    assert ids.tolist() == [2, 5, 9]


def test_missing_candidate_ranks_below_everything_returned() -> None:
    dense = (np.array([1, 2]), np.array([0.9, 0.8]))
    lexical = (np.array([3]), np.array([12.0]))
    ids, _ = blend([dense, lexical], [0.9, 0.1], "minmax")
    assert ids.tolist() == [1, 2, 3]  # dense dominates; 3 gets dense's floor


def test_constant_scores_normalise_to_zero_and_empty_runs_are_fine() -> None:
    assert normalise(np.array([2.0, 2.0]), "zscore").tolist() == [0.0, 0.0]
    assert normalise(np.array([]), "minmax").size == 0
    ids, scores = blend([(np.array([], dtype=np.int64), np.array([])), (np.array([4]), np.array([1.0]))],
                        [0.5, 0.5])
    assert ids.tolist() == [4]
    assert rrf([])[0].size == 0


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="normaliser"):
        normalise(np.array([1.0]), "softmax")
    with pytest.raises(ValueError, match="one weight per run"):
        blend([(np.array([1]), np.array([1.0]))], [0.5, 0.5])
    with pytest.raises(ValueError, match="pooling"):
        pool(np.array([1]), np.array([1.0]), np.zeros(2, int), "mean")
