"""Fit the answer-selection weights of ``qa/answer/selection.py`` on SQuAD questions of even-numbered articles.

    .venv/bin/python bench/fit_answers.py [--index index-eval/squad-v1.1-dev] [--mode hybrid]

Needs the SQuAD index that ``bench/answers.py`` builds. Retrieves passages for every question exactly as
``Assistant.ask`` does (questions embedded in one batch, for speed), describes every candidate sentence of the
top passages by ``qa.answer.selection.features``, and fits a logistic regression (label: the sentence contains a gold
answer) on questions of even-numbered articles only. It prints the weights to paste into ``qa/answer/selection.py``
and the accuracy of the best-scoring sentence on both halves; the odd half is held out (its labels are never fitted
on).

``MIN_SCORE`` is set from data too: the score below which 1% of the tuning half's correctly answered questions
fall. How many questions it turns away when nothing can answer them (each question asked of the index with its
own article's passages removed) is printed beside it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a file: the repository's bench and qa

from bench.answers import DATA, DEFAULT_INDEX, load_questions  # noqa: E402
from bench.common import EVEN, squad_article, squad_half  # noqa: E402
from qa.answer import selection as answer_mod  # noqa: E402
from qa.assistant import Assistant  # noqa: E402
from qa.embed.embedders import SentenceTransformerEmbedder  # noqa: E402
from qa.evaluation.metrics import contains_answer  # noqa: E402
from qa.records import Passage  # noqa: E402
from qa.settings import DEFAULT  # noqa: E402


def sentence_table(question: dict, passages: tuple[Passage, ...]) -> tuple[np.ndarray, np.ndarray] | None:
    """Features and labels of every candidate sentence, or None when there is none."""
    found = answer_mod.candidates(passages)
    if not found:
        return None
    labels = np.array([contains_answer(c.text, question["answers"]) for c in found])
    return answer_mod.features(question["text"], passages, found), labels


def hit_rate(tables: list, weights: np.ndarray, bias: float) -> float:
    """How often the best-scoring sentence holds a gold answer."""
    return float(np.mean([bool(t is not None and t[1][int(np.argmax(t[0] @ weights + bias))]) for t in tables]))


def best_logit(table, weights: np.ndarray, bias: float) -> float:
    return float((table[0] @ weights + bias).max()) if table is not None else -np.inf


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=DEFAULT_INDEX)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--mode", default=DEFAULT.retrieval.mode)
    parser.add_argument("-k", type=int, default=DEFAULT.default_k, help="passages per question (as `qa ask`)")
    parser.add_argument("-C", type=float, default=1.0, help="inverse regularisation strength")
    args = parser.parse_args(argv)

    from sklearn.linear_model import LogisticRegression
    from tqdm import tqdm

    embedder = SentenceTransformerEmbedder(device="cpu")
    assistant = Assistant.load(args.index, embedder=embedder)
    searcher = assistant.searcher
    questions = load_questions(args.data)
    vectors = embedder.embed([q["text"] for q in questions], batch_size=64)

    tables, unanswerable = [], []
    for q, vector in zip(tqdm(questions, desc="retrieving", unit="q"), vectors, strict=True):
        hits = searcher.search(q["text"], vector, 3 * args.k, mode=args.mode, settings=DEFAULT.retrieval)
        passages = tuple(Assistant.passage(searcher.data, hit, rank) for rank, hit in enumerate(hits, 1))
        tables.append(sentence_table(q, passages[: args.k]))
        others = [p for p in passages if squad_article(p.doc_id) != q["article"]]
        unanswerable.append(sentence_table(q, tuple(others[: args.k])))

    even = [squad_half(q["doc"]) == EVEN for q in questions]
    train = [t for t, e in zip(tables, even, strict=True) if e and t is not None and t[1].any()]
    model = LogisticRegression(C=args.C, max_iter=5000).fit(np.concatenate([t[0] for t in train]),
                                                            np.concatenate([t[1] for t in train]))
    weights, bias = model.coef_[0], float(model.intercept_[0])

    tuning = [t for t, e in zip(tables, even, strict=True) if e]
    held_out = [t for t, e in zip(tables, even, strict=True) if not e]
    right = [best_logit(t, weights, bias) for t in tuning if t is not None and t[1][int(np.argmax(t[0] @ weights))]]
    min_logit = float(np.percentile(right, 1))
    nothing = np.array([best_logit(t, weights, bias) for t, e in zip(unanswerable, even, strict=True) if e])

    print(f"fitted on {len(train)} questions of even-numbered articles ({sum(len(t[1]) for t in train)} sentences)")
    for name, w in zip(answer_mod.FEATURES, weights, strict=True):
        print(f"  {name:20s} {w:+.3f}")
    print(f"WEIGHTS = np.array([{', '.join(f'{w:.3f}' for w in weights)}])")
    print(f"BIAS = {bias:.3f}")
    print(f"MIN_SCORE = {1 / (1 + np.exp(-min_logit)):.3f}  # turns away {np.mean(nothing < min_logit):.1%} of "
          f"questions whose article is not searched, and 1% of the right answers")
    for name, part in (("tuning half (even articles)", tuning), ("held out (odd articles)", held_out)):
        print(f"best-sentence accuracy, {name}: fitted {hit_rate(part, weights, bias):.4f}, "
              f"current {hit_rate(part, answer_mod.WEIGHTS, answer_mod.BIAS):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
