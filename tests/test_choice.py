"""The automatic CPU variant (issue 12): measured on this machine, gated on quality, cached per CPU identity.

Fast: fake encoders and timers stand in for OpenVINO; the slow test with the real model is in test_runtime_model.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qa.embed import choice, int8
from qa.embed.choice import Measurement
from qa.embed.embedders import HashingEmbedder, SentenceTransformerEmbedder, query_embedder
from qa.index import store
from qa.index.build import build_index
from tests import fake_openvino as fake_openvino_module
from tests.fake_openvino import FakeEncoder

IDENTITY = {"model": "AMD EPYC", "flags": "abc", "cores": "2", "openvino": "2026.4"}


class Ticks:
    """A fake clock: each call to an encoder advances it by that encoder's cost."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_measure_keeps_the_best_round_and_the_least_cosine() -> None:
    ticks = Ticks()
    costs = {"openvino-fp32": iter([9.0, 2.0, 3.0]), "openvino-int8": iter([9.0, 1.5, 1.0])}
    base = HashingEmbedder(32).embed(["a b", "c d", "e f"])
    noisy = base.copy()
    noisy[1] = HashingEmbedder(32).embed(["zzz"])[0]  # one text far off: the least cosine must see it

    def encoder(name: str, vectors: np.ndarray):
        def encode(texts: list[str]) -> np.ndarray:
            ticks.now += next(costs[name])
            return vectors
        return encode

    found = choice.measure({"openvino-fp32": encoder("openvino-fp32", base),
                            "openvino-int8": encoder("openvino-int8", noisy)}, ["x"] * 3, rounds=2, timer=ticks)
    assert [m.seconds for m in found] == [2.0, 1.0]  # the warm round (9.0) is not timed
    assert found[0].min_cosine == pytest.approx(1.0)
    assert found[1].min_cosine == pytest.approx(float(base[1] @ noisy[1]))


@pytest.mark.parametrize(("int8_seconds", "int8_cosine", "bf16_seconds", "expected"), [
    (0.5, 0.995, None, "openvino-int8"),     # faster by far and good enough
    (0.95, 0.995, None, "openvino-fp32"),    # within the margin: the exact one
    (0.2, 0.90, None, "openvino-fp32"),      # fast but fails the gate
    (0.7, 0.995, 0.5, "openvino-bf16"),      # bf16 faster still: int8 must beat it by the margin too
    (2.0, 0.995, 1.5, "openvino-fp32"),      # both slower than fp32 (a CPU that emulates them)
])
def test_pick_is_the_fastest_that_passes_the_gate(int8_seconds, int8_cosine, bf16_seconds, expected) -> None:
    found = [Measurement("openvino-fp32", 1.0, 1.0), Measurement("openvino-int8", int8_seconds, int8_cosine)]
    if bf16_seconds is not None:
        found.append(Measurement("openvino-bf16", bf16_seconds, 0.99998))
    assert choice.pick(found) == expected


def test_the_choice_is_measured_once_per_cpu_and_remeasured_when_the_record_is_bad(tmp_path: Path) -> None:
    runs: list[int] = []

    def run() -> list[Measurement]:
        runs.append(1)
        return [Measurement("openvino-fp32", 1.0, 1.0), Measurement("openvino-int8", 0.5, 0.99)]

    record = tmp_path / "choice" / f"{choice.identity_key(IDENTITY)}.json"
    said: list[str] = []
    assert choice.chosen(record, IDENTITY, run, said.append) == "openvino-int8"
    assert choice.chosen(record, IDENTITY, run, said.append) == "openvino-int8"
    assert len(runs) == 1 and any("measuring" in line for line in said)
    assert json.loads(record.read_text())["cpu"] == IDENTITY
    other = {**IDENTITY, "openvino": "2027.0"}  # same file, another CPU or OpenVINO: measured again
    assert choice.chosen(record, other, run) == "openvino-int8" and len(runs) == 2
    record.write_text("{not json")
    choice.chosen(record, other, run)
    assert len(runs) == 3
    assert choice.identity_key(IDENTITY) != choice.identity_key(other)


def test_cpu_identity_reads_model_flags_and_cores() -> None:
    a = choice.cpu_identity("model name\t: AMD EPYC\nflags\t\t: avx2 fma\n", 2, "1")
    assert a == choice.cpu_identity("model name\t: AMD EPYC\nflags\t\t: fma avx2\n", 2, "1")  # order-free
    assert a != choice.cpu_identity("model name\t: AMD EPYC\nflags\t\t: avx2 fma avx512_bf16\n", 2, "1")
    assert a != choice.cpu_identity("model name\t: AMD EPYC\nflags\t\t: avx2 fma\n", 16, "1")
    assert choice.cpu_identity("", 1, "1")["model"] == "unknown"


# -- through the embedder, with fake OpenVINO ------------------------------------------------------------------


@pytest.fixture
def fake_openvino(monkeypatch: pytest.MonkeyPatch) -> dict[str, list]:
    return fake_openvino_module.install(monkeypatch)


def test_auto_measures_once_then_reads_the_record(fake_openvino, tmp_path: Path, small_corpus: Path) -> None:
    said: list[str] = []
    first = SentenceTransformerEmbedder(device="cpu", model_cache=tmp_path / "models", notify=said.append)
    assert first.variant == "openvino-int8"  # 10x faster and within the gate
    assert first.fingerprint == int8.fingerprint(first.weights_fingerprint) != first.weights_fingerprint
    assert any("measuring which variant" in line for line in said)
    assert any("preparing the int8 model" in line for line in said)
    measured = len(fake_openvino["encoders"])
    assert measured == 2  # fp32 and int8 compiled once each; the winner is kept for embedding
    report = build_index(small_corpus, tmp_path / "index", first, progress=False)
    assert len(fake_openvino["encoders"]) == measured and report.chunks_embedded > 0
    assert store.load(tmp_path / "index").manifest.model.variant == "openvino-int8"

    said.clear()
    second = SentenceTransformerEmbedder(device="cpu", model_cache=tmp_path / "models", notify=said.append)
    assert second.variant == "openvino-int8" and said == []  # no measuring, no converting
    assert len(fake_openvino["exports"]) == len(fake_openvino["quantised"]) == 1
    # the index is searched with its own variant, with the int8 fingerprint it was built with
    query = query_embedder(store.load(tmp_path / "index").manifest.model, tmp_path / "models")
    assert (query.variant, query.fingerprint) == ("openvino-int8", first.fingerprint)


def test_a_variant_that_fails_the_gate_is_not_chosen_however_fast(fake_openvino, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FakeEncoder, "INT8_NOISE", 0.5)
    embedder = SentenceTransformerEmbedder(device="cpu", model_cache=tmp_path)
    assert embedder.variant == "openvino-fp32"
    assert embedder.fingerprint == embedder.weights_fingerprint
    record = next((tmp_path / f"{embedder.weights_fingerprint}-choice").iterdir())
    measured = {m["variant"]: m for m in json.loads(record.read_text())["measured"]}
    assert measured["openvino-int8"]["min_cosine"] < choice.GATE <= measured["openvino-fp32"]["min_cosine"]


def test_without_int8_dot_products_or_bf16_nothing_is_measured(fake_openvino, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """An AVX2-only CPU: fp32 is the only candidate, so no quantisation (90 s) and no measurement are paid."""
    monkeypatch.setattr(choice, "int8_dot_product", lambda: False)
    embedder = SentenceTransformerEmbedder(device="cpu", model_cache=tmp_path)
    assert embedder.variant == "openvino-fp32"
    assert fake_openvino["quantised"] == [] and fake_openvino["encoders"] == []
    assert not list(tmp_path.glob("*-choice"))
