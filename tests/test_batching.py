"""qa.embed.batching: questions asked at the same moment share a forward pass, each caller gets its own vectors."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from qa.embed import batching
from qa.embed.batching import Batches


def vector_of(text: str) -> np.ndarray:
    return np.array([len(text), sum(map(ord, text))], dtype=np.float32)


class Encoder:
    """Records its batches; the first call waits for ``release`` so that others queue up behind it."""

    def __init__(self, fail_on: str | None = None):
        self.batches: list[list[str]] = []
        self.started, self.release = threading.Event(), threading.Event()
        self.fail_on = fail_on

    def __call__(self, texts: list[str], batch_size: int) -> np.ndarray:
        self.batches.append(list(texts))
        self.started.set()
        self.release.wait(10)
        if self.fail_on in texts:
            raise RuntimeError("the model failed")
        return np.stack([vector_of(t) for t in texts])


def ask_at_once(batches: Batches, encoder: Encoder, questions: list[str]):
    """The first question holds the only stream; the rest arrive meanwhile, then it is let go."""
    with ThreadPoolExecutor(max_workers=len(questions)) as pool:
        first = pool.submit(batches.encode, [questions[0]], 32)
        encoder.started.wait(10)
        rest = [pool.submit(batches.encode, [q], 32) for q in questions[1:]]
        while sum(len(job.texts) for job in batches._waiting) < len(questions) - 1:
            threading.Event().wait(0.001)  # until every other question is waiting
        encoder.release.set()
        return [future for future in [first, *rest]]


def test_questions_waiting_together_are_embedded_in_one_batch_each_getting_its_own() -> None:
    encoder = Encoder()
    batches = Batches(encoder, streams=1)
    questions = [f"question number {i}" + "!" * i for i in range(6)]
    futures = ask_at_once(batches, encoder, questions)
    for question, future in zip(questions, futures, strict=True):
        assert np.array_equal(future.result()[0], vector_of(question))
    assert encoder.batches[0] == questions[:1] and sorted(encoder.batches[1]) == sorted(questions[1:])
    assert len(encoder.batches) == 2


def test_a_question_alone_is_embedded_at_once() -> None:
    encoder = Encoder()
    encoder.release.set()
    batches = Batches(encoder, streams=2)
    assert np.array_equal(batches.encode(["alone", "and another"], 32),
                          np.stack([vector_of("alone"), vector_of("and another")]))
    assert encoder.batches == [["alone", "and another"]]


def test_a_failed_batch_fails_every_question_in_it_and_the_next_works() -> None:
    encoder = Encoder(fail_on="bad")
    batches = Batches(encoder, streams=1)
    futures = ask_at_once(batches, encoder, ["first", "bad", "third"])
    assert futures[0].result().shape == (1, 2)
    for future in futures[1:]:
        with pytest.raises(RuntimeError, match="the model failed"):
            future.result()
    assert batches.encode(["later"], 32).shape == (1, 2)


def test_a_batch_holds_at_most_max_batch_questions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batching, "MAX_BATCH", 3)
    encoder = Encoder()
    batches = Batches(encoder, streams=1)
    futures = ask_at_once(batches, encoder, [f"q{i}" for i in range(8)])
    assert [f.result().shape for f in futures] == [(1, 2)] * 8
    assert [len(b) for b in encoder.batches] == [1, 3, 3, 1]
