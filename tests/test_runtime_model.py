"""The fast variants against the reference with the real model (slow: exports the model to OpenVINO once)."""

from __future__ import annotations

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
