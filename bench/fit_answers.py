"""Fit the answer-selection weights of ``qa/answer.py`` on SQuAD questions of even-numbered articles.

    .venv/bin/python bench/fit_answers.py [--index /work/cache/answers-squad-index] [--mode dense]

Needs the SQuAD index that ``bench/answers.py`` builds. Retrieves passages for every question, scores every
candidate sentence's features, fits a logistic regression (label: the sentence contains a gold answer) on the
questions of even-numbered articles only, and prints the weights to paste into ``qa/answer.py`` with the
accuracy of the argmax sentence on both halves (the odd half is held out: nothing here looks at its labels
to fit). ``MIN_SCORE`` is set from data: the score below which only 1% of the tuning half's correct answers
fall; how many questions with their own article removed from the index (nothing there answers them) it
turns away is printed beside it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from answers import DATA, DEFAULT_INDEX, CachedEmbed, load_questions  # noqa: E402

from qa import answer as answer_mod  # noqa: E402
from qa.assistant import Assistant  # noqa: E402
from qa.embedding import SentenceTransformerEmbedder  # noqa: E402


def question_rows(question: dict, passages, vector: np.ndarray, cached: CachedEmbed, max_passages: int):
    found = answer_mod.candidates(passages, max_passages)
    if not found:
        return None, None
    cosines = cached([c.text for c in found]) @ vector
    rows = answer_mod.features(question["text"], passages, found, cosines)
    labels = np.array([answer_mod.contains_answer(c.text, question["answers"]) for c in found])
    return rows, labels


def argmax_accuracy(sets, weights: np.ndarray, bias: float) -> float:
    hits = [labels[int(np.argmax(rows @ weights + bias))] if rows is not None else False for rows, labels in sets]
    return float(np.mean(hits)) if hits else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=DEFAULT_INDEX)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--mode", default=None)
    parser.add_argument("--max-passages", type=int, default=3)
    parser.add_argument("-C", type=float, default=1.0, help="inverse regularisation strength")
    args = parser.parse_args(argv)

    from sklearn.linear_model import LogisticRegression
    from tqdm import tqdm

    embedder = SentenceTransformerEmbedder(device="cpu")
    assistant = Assistant.load(args.index, embedder=embedder)
    questions = load_questions(args.data)
    options = {"mode": args.mode} if args.mode else {}
    vectors = embedder.embed([q["text"] for q in questions], batch_size=64)
    retrieved = [assistant.ask(q["text"], k=10, answer=False, **options).passages
                 for q in tqdm(questions, desc="retrieving", unit="q")]
    cached = CachedEmbed(embedder)
    cached.prefetch([c.text for ps in retrieved for c in answer_mod.candidates(ps, 10)])

    def article(doc_id: str) -> str:
        return doc_id.rsplit("#", 1)[-1].split("_")[0]

    sets, negatives = [], []
    for q, passages, vector in zip(questions, retrieved, vectors, strict=True):
        sets.append(question_rows(q, passages[:5], vector, cached, args.max_passages))
        others = [p for p in passages if article(p.doc_id) != str(q["article"])]
        negatives.append(question_rows(q, others[:5], vector, cached, args.max_passages)[0])

    even = [s for s, q in zip(sets, questions, strict=True) if q["article"] % 2 == 0]
    odd = [s for s, q in zip(sets, questions, strict=True) if q["article"] % 2 == 1]
    train = [s for s in even if s[0] is not None and s[1].any()]
    x = np.concatenate([rows for rows, _ in train])
    y = np.concatenate([labels for _, labels in train])
    model = LogisticRegression(C=args.C, max_iter=2000).fit(x, y)
    weights, bias = model.coef_[0], float(model.intercept_[0])

    best = [rows @ weights + bias for rows, _ in even if rows is not None]
    correct = [s.max() for s, (rows, labels) in zip(best, [e for e in even if e[0] is not None], strict=True)
               if labels[int(np.argmax(s))]]
    min_score = float(np.percentile(correct, 1))
    neg_even = [(rows @ weights + bias).max() for rows, q in zip(negatives, questions, strict=True)
                if rows is not None and q["article"] % 2 == 0]
    print("weights fitted on", len(train), "even-article questions,", len(x), "sentences")
    for name, w in zip(answer_mod.FEATURES, weights, strict=True):
        print(f"  {name:14s} {w:+.3f}")
    print(f"WEIGHTS = np.array([{', '.join(f'{w:.3f}' for w in weights)}])")
    print(f"BIAS = {bias:.3f}")
    print(f"MIN_SCORE = {min_score:.3f}  # turns away {np.mean(np.array(neg_even) < min_score):.1%} of questions "
          "whose article is not in the index")
    for name, part in (("tuning half (even)", even), ("held out (odd)", odd)):
        print(f"argmax accuracy {name}: fitted {argmax_accuracy(part, weights, bias):.4f}, "
              f"current {argmax_accuracy(part, answer_mod.WEIGHTS, answer_mod.BIAS):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
