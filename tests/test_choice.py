"""The automatic CPU variant (issue 12): measured on this machine, gated on quality, cached per CPU identity.

Fast: fake encoders and timers stand in for OpenVINO; the slow test with the real model is in test_runtime_model.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qa.embed import choice, runtimes
from qa.embed.choice import Measurement
from qa.embed.embedders import HashingEmbedder, SentenceTransformerEmbedder, query_embedder
from qa.index import store
from qa.index.build import build_index
from tests import fake_openvino as fake_openvino_module
from tests.fake_openvino import FakeCore, FakeEncoder

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


@pytest.mark.parametrize(("bf16_seconds", "bf16_cosine", "expected"), [
    (0.5, 0.99998, "openvino-bf16"),   # faster by far and within the gate
    (0.95, 0.99998, "openvino-fp32"),  # within the margin: the exact one
    (0.2, 0.99, "openvino-fp32"),      # fast but fails the gate
    (1.5, 0.99998, "openvino-fp32"),   # slower than fp32 (a CPU that emulates it)
])
def test_pick_is_the_fastest_that_passes_the_gate(bf16_seconds, bf16_cosine, expected) -> None:
    found = [Measurement("openvino-fp32", 1.0, 1.0), Measurement("openvino-bf16", bf16_seconds, bf16_cosine)]
    assert choice.pick(found) == expected


def test_the_choice_is_measured_once_per_cpu_and_remeasured_when_the_record_is_bad(tmp_path: Path) -> None:
    runs: list[int] = []

    def run() -> list[Measurement]:
        runs.append(1)
        return [Measurement("openvino-fp32", 1.0, 1.0), Measurement("openvino-bf16", 0.5, 0.99999)]

    record = tmp_path / "choice" / f"{choice.identity_key(IDENTITY)}.json"
    said: list[str] = []
    assert choice.chosen(record, IDENTITY, run, said.append) == "openvino-bf16"
    assert choice.chosen(record, IDENTITY, run, said.append) == "openvino-bf16"
    assert len(runs) == 1 and any("measuring" in line for line in said)
    assert json.loads(record.read_text())["cpu"] == IDENTITY
    other = {**IDENTITY, "openvino": "2027.0"}  # same file, another CPU or OpenVINO: measured again
    assert choice.chosen(record, other, run) == "openvino-bf16" and len(runs) == 2
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
    """A CPU whose OpenVINO reports BF16: two candidates, bf16 ten times faster than fp32."""
    made = fake_openvino_module.install(monkeypatch)
    monkeypatch.setattr(runtimes, "openvino_core", lambda: FakeCore(["FP32", "BF16", "INT8"]))
    return made


def test_auto_measures_once_then_reads_the_record(fake_openvino, tmp_path: Path, small_corpus: Path) -> None:
    said: list[str] = []
    first = SentenceTransformerEmbedder(device="cpu", model_cache=tmp_path / "models", notify=said.append)
    assert first.variant == "openvino-bf16"  # 10x faster and within the gate
    assert first.fingerprint == first.weights_fingerprint  # the float variants share it
    assert any("measuring which variant" in line for line in said) and any("chose" in line for line in said)
    measured = len(fake_openvino["encoders"])
    assert measured == 2  # fp32 and bf16 compiled once each; the winner is kept for embedding
    report = build_index(small_corpus, tmp_path / "index", first, progress=False)
    assert len(fake_openvino["encoders"]) == measured and report.chunks_embedded > 0
    assert store.load(tmp_path / "index").manifest.model.variant == "openvino-bf16"

    said.clear()
    second = SentenceTransformerEmbedder(device="cpu", model_cache=tmp_path / "models", notify=said.append)
    assert second.variant == "openvino-bf16" and said == []  # no measuring, no converting
    assert len(fake_openvino["exports"]) == 1 and fake_openvino["quantised"] == []  # int8 is no candidate
    query = query_embedder(store.load(tmp_path / "index").manifest.model, tmp_path / "models")
    assert (query.variant, query.fingerprint) == ("openvino-bf16", first.fingerprint)


def test_a_variant_that_fails_the_gate_is_not_chosen_however_fast(fake_openvino, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FakeEncoder, "BF16_NOISE", 0.05)
    embedder = SentenceTransformerEmbedder(device="cpu", model_cache=tmp_path)
    assert embedder.variant == "openvino-fp32"
    assert embedder.fingerprint == embedder.weights_fingerprint
    record = next((tmp_path / f"{embedder.weights_fingerprint}-choice").iterdir())
    measured = {m["variant"]: m for m in json.loads(record.read_text())["measured"]}
    assert measured["openvino-bf16"]["min_cosine"] < choice.GATE <= measured["openvino-fp32"]["min_cosine"]


def test_without_bf16_nothing_is_measured(fake_openvino, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An AVX2-only CPU (OpenVINO reports FP32, INT8, BIN): fp32 is the only candidate, nothing is measured."""
    monkeypatch.setattr(runtimes, "openvino_core", lambda: FakeCore(["FP32", "INT8", "BIN"]))
    embedder = SentenceTransformerEmbedder(device="cpu", model_cache=tmp_path)
    assert embedder.variant == "openvino-fp32"
    assert fake_openvino["quantised"] == [] and fake_openvino["encoders"] == []
    assert not list(tmp_path.glob("*-choice"))
