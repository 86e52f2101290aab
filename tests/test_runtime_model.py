"""The fast variants against the reference with the real model (slow: exports the model to OpenVINO once)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qa.embed import runtimes
from qa.embed.embedders import SentenceTransformerEmbedder

pytestmark = pytest.mark.slow

TEXTS = [
    "When did Russia withdraw its S-300 systems from Syria?",
    "Forced displacement",
    "Apple trees grow best in cool climates. They flower in spring. " * 12,  # long: padding and batching
    "0-dimensional biomaterials show inductive properties.",
]


def test_the_automatic_cpu_variant_gives_the_reference_vectors(tmp_path: Path) -> None:
    """Why every variant shares the model fingerprint and embedding cache (qa.embed.runtimes): cosine >= 0.9999."""
    variant, _ = runtimes.resolve("auto", "cpu")
    if variant == "torch-fp32":
        pytest.skip("openvino is not installed: the reference is the only CPU variant")
    reference = SentenceTransformerEmbedder(variant="torch-fp32", device="cpu").embed(TEXTS)
    fast = SentenceTransformerEmbedder(variant=variant, device="cpu", model_cache=tmp_path)
    vectors = fast.embed(TEXTS, batch_size=2)
    assert vectors.shape == reference.shape and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert float((vectors * reference).sum(axis=1).min()) >= 0.9999
    # exported into the model cache given, keyed by the weights' fingerprint, not into site-packages
    assert (tmp_path / f"{fast.fingerprint}-openvino" / "model.xml").is_file()
    # alone or in a padded batch, the same vector
    assert float(fast.embed(TEXTS[:1])[0] @ vectors[0]) >= 0.9999


def test_the_measured_choice_with_the_real_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first auto run measures the candidates (bf16 made one even on a CPU without it: OpenVINO then runs
    fp32), records the choice for this CPU, and the next run reads it without measuring."""
    from qa.embed import choice

    if not runtimes.openvino_available():
        pytest.skip("needs openvino")
    monkeypatch.setattr(choice, "candidates", lambda capabilities: ["openvino-fp32", "openvino-bf16"])
    said: list[str] = []
    first = SentenceTransformerEmbedder(device="cpu", model_cache=tmp_path, notify=said.append)
    assert first.variant in ("openvino-fp32", "openvino-bf16")
    record = next((tmp_path / f"{first.weights_fingerprint}-choice").iterdir())
    measured = {m["variant"]: m for m in json.loads(record.read_text())["measured"]}
    assert set(measured) == {"openvino-fp32", "openvino-bf16"} and any("chose" in line for line in said)
    assert min(m["min_cosine"] for m in measured.values()) >= choice.GATE
    assert first.embed(TEXTS).shape == (len(TEXTS), 384)
    said.clear()
    assert SentenceTransformerEmbedder(device="cpu", model_cache=tmp_path, notify=said.append).variant == first.variant
    assert said == []


def test_int8_is_close_to_fp32_and_deterministic(tmp_path: Path) -> None:
    """The real quantisation: int8 vectors close to fp32 (not within rounding: its own fingerprint), and
    quantising again gives the same model (the calibration is deterministic)."""
    from qa.checksums import sha256_file
    from qa.embed import int8

    if not runtimes.openvino_available() or not int8.nncf_available():
        pytest.skip("needs openvino and nncf")
    reference = SentenceTransformerEmbedder(variant="openvino-fp32", device="cpu", model_cache=tmp_path).embed(TEXTS)
    quantised = SentenceTransformerEmbedder(variant="openvino-int8", device="cpu", model_cache=tmp_path)
    cosine = (quantised.embed(TEXTS) * reference).sum(axis=1)
    assert float(cosine.min()) >= 0.97 and float(cosine.mean()) < 0.99999
    assert quantised.fingerprint != quantised.weights_fingerprint
    again = tmp_path / "again"
    again.mkdir()
    int8.quantise(tmp_path / f"{quantised.weights_fingerprint}-openvino" / "model.xml",
                  quantised.model_dir / "tokenizer.json", quantised.max_tokens, again)
    entry = tmp_path / f"{quantised.weights_fingerprint}-openvino-int8"
    assert sha256_file(again / "model.bin") == sha256_file(entry / "model.bin")


def test_questions_embedded_at_once_from_many_threads_get_their_own_vectors(tmp_path: Path) -> None:
    """The question embedder's streams run side by side (qa.embed.runtimes.QUERY_STREAMS): every thread gets the
    vector of its own question, the same as one at a time."""
    from concurrent.futures import ThreadPoolExecutor

    variant, _ = runtimes.resolve("auto", "cpu")
    if not variant.startswith("openvino"):
        pytest.skip("openvino is not installed: questions are embedded one at a time")
    embedder = SentenceTransformerEmbedder(variant=variant, device="cpu", model_cache=tmp_path,
                                           threads=runtimes.QUERY_THREADS)
    alone = [embedder.embed([text])[0] for text in TEXTS]
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(pool.map(lambda i: embedder.embed([TEXTS[i % len(TEXTS)]])[0], range(64)))
    for i, vector in enumerate(together):
        assert float(vector @ alone[i % len(TEXTS)]) >= 0.9999, i
    assert embedder._concurrent  # the lock was not what kept them apart
