"""Fake OpenVINO for fast tests: an export, a quantiser and encoders that embed like the hashing embedder."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from qa.embed import int8, runtimes
from qa.embed.embedders import HashingEmbedder


class FakeEncoder:
    """Embeds like the hashing embedder, ``SECONDS`` per call by precision; bf16 a little off (``BF16_NOISE``)."""

    SECONDS = {"f32": 0.02, "bf16": 0.002}
    BF16_NOISE = 0.0005  # cosine about 0.99995 (384 dimensions), as measured for bf16

    def __init__(self, xml: Path, tokenizer_file: Path, max_tokens: int, precision: str, threads=None):
        self.kind = xml.parent.name.split("-", 1)[1]
        self.precision = precision
        self.calls = 0

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        self.calls += 1
        time.sleep(self.SECONDS[self.precision])
        vectors = HashingEmbedder(384).embed(texts)
        if self.precision == "bf16":
            noise = np.random.default_rng(len(texts)).normal(0, self.BF16_NOISE, vectors.shape).astype(np.float32)
            vectors = vectors + noise
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors


class FakeCore:
    def __init__(self, capabilities: list[str]):
        self.capabilities = capabilities

    def get_property(self, device: str, name: str) -> list[str]:
        return self.capabilities


def install(monkeypatch: pytest.MonkeyPatch) -> dict[str, list]:
    """Fake OpenVINO on a CPU reporting FP32 and INT8 (no BF16); what was made, by kind."""
    made: dict[str, list] = {"exports": [], "quantised": [], "encoders": []}

    def export(model_dir: Path, folder: Path) -> None:
        made["exports"].append(folder)
        (folder / "model.xml").write_text("<net/>")
        (folder / "model.bin").write_bytes(b"fp32")

    def quantise(xml: Path, tokenizer: Path, max_tokens: int, folder: Path) -> None:
        assert xml.is_file()
        made["quantised"].append(folder)
        (folder / "model.xml").write_text("<net int8/>")
        (folder / "model.bin").write_bytes(b"int8")

    def encoder(*args, **kwargs) -> FakeEncoder:
        made["encoders"].append(FakeEncoder(*args, **kwargs))
        return made["encoders"][-1]

    monkeypatch.setattr(runtimes, "export_openvino", export)
    monkeypatch.setattr(int8, "quantise", quantise)
    monkeypatch.setattr(int8, "nncf_available", lambda: True)
    monkeypatch.setattr(runtimes, "OpenVinoEncoder", encoder)
    monkeypatch.setattr(runtimes, "openvino_available", lambda: True)
    monkeypatch.setattr(runtimes, "cuda_available", lambda: False)
    monkeypatch.setattr(runtimes, "openvino_core", lambda: FakeCore(["FP32", "INT8", "BIN"]))
    return made
