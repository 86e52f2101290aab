"""Pure: ranking metrics with trec_eval's definitions, answer checks and latency percentiles.

Why pytrec_eval: it *is* trec_eval (the C code, called in-process), so nDCG, recall and success here are the
numbers anyone gets from the TREC run file we write. MRR@10 is trec_eval's ``recip_rank`` over each ranking cut to
its top 10. A judged query with no results counts as 0 (``trec_eval -c``); queries without judgements are skipped.

A run is ``{query_id: {doc_id: score}}``; trec_eval orders each query's documents by score (ties by document id),
so ``strict_scores`` makes the scores strictly decreasing in our rank order first: the run file then means exactly
the ranking we produced.

Example::

    >>> run = {"q1": {"d1": 2.0, "d2": 1.0}}
    >>> ranking_metrics(run, {"q1": {"d2": 1}})["mrr@10"]
    0.5
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Sequence

import numpy as np

# our name -> (trec_eval measure, key in pytrec_eval's output)
MEASURES = {
    "ndcg@10": ("ndcg_cut.10", "ndcg_cut_10"),
    "recall@10": ("recall.10", "recall_10"),
    "recall@100": ("recall.100", "recall_100"),
    "success@1": ("success.1", "success_1"),
    "success@5": ("success.5", "success_5"),
}
RANKING = ("ndcg@10", "mrr@10", "recall@10", "recall@100", "success@1", "success@5")


def strict_scores(ranked: Sequence[tuple[str, float]], places: int = 6) -> dict[str, float]:
    """``[(doc_id, score)]`` in rank order -> scores rounded to ``places`` and strictly decreasing."""
    out: dict[str, float] = {}
    step = 10.0 ** -places
    previous = None
    for doc_id, score in ranked:
        value = round(float(score), places)
        if previous is not None and value >= previous:
            value = round(previous - step, places)
        out[doc_id] = previous = value
    return out


def per_query(run: dict[str, dict[str, float]], qrels: dict[str, dict[str, int]]) -> dict[str, dict[str, float]]:
    """Every ranking metric for every judged query (0 for a judged query missing from the run)."""
    import pytrec_eval

    judged = {q: rels for q, rels in qrels.items() if any(r > 0 for r in rels.values())}
    present = {q: docs for q, docs in run.items() if q in judged and docs}
    if not judged:
        return {}
    evaluator = pytrec_eval.RelevanceEvaluator(judged, {m for m, _ in MEASURES.values()})
    scores = evaluator.evaluate(present) if present else {}
    top10 = {q: dict(sorted(docs.items(), key=lambda kv: (-kv[1], kv[0]))[:10]) for q, docs in present.items()}
    # subtle: trec_eval breaks score ties by document id descending; strict_scores makes ties impossible anyway.
    mrr = pytrec_eval.RelevanceEvaluator(judged, {"recip_rank"}).evaluate(top10) if top10 else {}
    out = {}
    for q in judged:
        values = {name: float(scores.get(q, {}).get(key, 0.0)) for name, (_, key) in MEASURES.items()}
        values["mrr@10"] = float(mrr.get(q, {}).get("recip_rank", 0.0))
        out[q] = values
    return out


def ranking_metrics(run: dict[str, dict[str, float]], qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    """Means over judged queries, in the order of ``RANKING``."""
    rows = per_query(run, qrels)
    if not rows:
        return {}
    return {name: float(np.mean([row[name] for row in rows.values()])) for name in RANKING}


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalise_answer(text: str) -> str:
    """SQuAD's answer normalisation: lower case, no punctuation, no articles, single spaces."""
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCT)).split())


def contains_answer(text: str, answers: Iterable[str]) -> bool:
    """Whether any gold answer appears in ``text``, both normalised the SQuAD way (as whole words)."""
    haystack = f" {normalise_answer(text)} "
    return any(f" {gold} " in haystack for gold in map(normalise_answer, answers) if gold)


def percentiles(values_ms: Sequence[float] | np.ndarray, places: int = 2) -> dict[str, float]:
    """Median and 95th percentile (numpy's linear interpolation), rounded to ``places``; 0 for no values."""
    if len(values_ms) == 0:
        return {"p50": 0.0, "p95": 0.0}
    p50, p95 = np.percentile(np.asarray(values_ms, dtype=float), [50, 95])
    return {"p50": round(float(p50), places), "p95": round(float(p95), places)}
