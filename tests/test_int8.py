"""The int8 variant (issue 12): its own fingerprint and cache entry, made once, from shipped calibration texts.

Fast: fake OpenVINO (an export, a quantiser and encoders that embed like the hashing embedder); the real
quantisation is measured by bench/int8_quality.py and tested in test_runtime_model (slow).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.embed import int8, model_cache, runtimes
from qa.embed.embedders import SentenceTransformerEmbedder
from tests import fake_openvino as fake_openvino_module


@pytest.fixture
def fake_openvino(monkeypatch: pytest.MonkeyPatch) -> dict[str, list]:
    return fake_openvino_module.install(monkeypatch)


def test_int8_is_made_once_with_its_own_fingerprint(fake_openvino, tmp_path: Path) -> None:
    embedder = SentenceTransformerEmbedder(device="cpu", variant="openvino-fp32", model_cache=tmp_path)
    embedder.embed(["a question"])
    assert embedder.variant == "openvino-fp32" and fake_openvino["quantised"] == []
    assert not list(tmp_path.glob("*-choice"))
    forced = SentenceTransformerEmbedder(device="cpu", variant="openvino-int8", model_cache=tmp_path)
    forced.embed(["a question"])
    assert len(fake_openvino["quantised"]) == 1 and not list(tmp_path.glob("*-choice"))
    assert forced.fingerprint == int8.fingerprint(forced.weights_fingerprint) != embedder.fingerprint
    SentenceTransformerEmbedder(device="cpu", variant="openvino-int8", model_cache=tmp_path).embed(["again"])
    assert len(fake_openvino["quantised"]) == 1  # from the model cache the second time
    entry = tmp_path / f"{forced.weights_fingerprint}-openvino-int8"
    assert model_cache.entry_ready(entry, "openvino-int8", int8.VERSION, forced.fingerprint)


def test_int8_without_nncf_or_openvino_says_what_to_do(fake_openvino, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from qa.errors import ModelError

    monkeypatch.setattr(int8, "nncf_available", lambda: False)
    with pytest.raises(ModelError, match="needs the nncf package"):
        SentenceTransformerEmbedder(device="cpu", variant="openvino-int8", model_cache=tmp_path).embed(["q"])
    monkeypatch.setattr(runtimes, "openvino_available", lambda: False)
    with pytest.raises(ModelError, match="openvino-int8, which needs the openvino package"):
        runtimes.runnable_here("openvino-int8")


def test_the_calibration_and_measurement_texts_are_disjoint_and_fixed() -> None:
    calibration, measured = set(int8.calibration_texts()), set(int8.measurement_texts())
    assert len(calibration) > 250 and 10 <= len(measured) <= 30 and not calibration & measured
    assert any(t.endswith("?") for t in measured) and any(len(t) > 500 for t in measured)  # questions and passages
    assert int8.recipe() == int8.recipe() and int8.recipe().startswith(f"int8v{int8.VERSION}-")
