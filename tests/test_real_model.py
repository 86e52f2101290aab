"""End to end with the real packaged model on the seed corpus (slow: loads torch and the model once)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qa.assistant import Assistant
from qa.embed.embedders import SentenceTransformerEmbedder
from qa.index.build import build_index
from tests.conftest import ISW_DOC, SEED_CORPUS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def real_embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(device="cpu")


@pytest.fixture(scope="module")
def seed_index(tmp_path_factory, real_embedder) -> Path:
    index = tmp_path_factory.mktemp("seed") / "index"
    build_index(SEED_CORPUS, index, real_embedder, progress=False)
    return index


def test_model_is_offline_normalised_and_fits_chunks(real_embedder) -> None:
    vectors = real_embedder.embed(["Russia withdrew S-300 systems.", "Forced displacement"])
    assert vectors.shape == (2, 384)
    assert abs(float((vectors[0] ** 2).sum()) - 1) < 1e-4
    assert len(real_embedder.fingerprint) == 16


def test_s300_question_is_answered_from_the_isw_report(seed_index: Path, real_embedder) -> None:
    result = Assistant.load(seed_index, embedder=real_embedder).ask(
        "When did Russia withdraw its S-300 systems from Syria?", k=3)
    top = result.passages[0]
    assert top.path == ISW_DOC and "S-300" in top.text and "2022" in top.text
    assert top.source == ("Russia, Iran voice serious concern about “dangerous developments” in Syria"
                          " · Institute for the Study of War · 2024-11-30")


def test_displacement_question_is_answered_from_the_wilson_piece(seed_index: Path, real_embedder) -> None:
    result = Assistant.load(seed_index, embedder=real_embedder).ask(
        "How many people are forcibly displaced worldwide?", k=3)
    assert result.passages[0].path == "wilson-center-forced-displacement.md"
    assert "110 million" in result.passages[0].text


def test_real_chunks_fit_the_model(seed_index: Path, real_embedder) -> None:
    from qa.index import store

    data = store.load(seed_index)
    limit = data.manifest.chunking["max_tokens"]
    for row in range(len(data.chunks)):
        assert len(real_embedder.token_spans(data.chunk(row).text)) <= limit


def test_cli_index_and_ask_with_the_real_model(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "QA_MODEL"}
    repo = Path(__file__).parent.parent
    index = tmp_path / "index"
    subprocess.run([sys.executable, "-m", "qa", "index", "--corpus", str(SEED_CORPUS), "--index", str(index), "-q"],
                   check=True, env=env, cwd=repo, capture_output=True, timeout=600)
    proc = subprocess.run([sys.executable, "-m", "qa", "ask", "What did Belousov discuss with Kim Jong Un?",
                           "--index", str(index), "--json"], check=True, env=env, cwd=repo, capture_output=True,
                          text=True, timeout=300)
    data = json.loads(proc.stdout)
    assert data["passages"][0]["file"] == ISW_DOC and "Belousov" in data["passages"][0]["text"]


def test_cli_variant_and_device_options_with_the_real_model(tmp_path: Path) -> None:
    """`qa index --variant torch-fp32 --device cpu`: the build runs as asked (auto is OpenVINO where it is installed),
    the manifest says so, and `qa ask` answers from it with the same variant."""
    from qa.index import store

    env = {k: v for k, v in os.environ.items() if k != "QA_MODEL"}
    repo = Path(__file__).parent.parent
    index = tmp_path / "index"
    built = subprocess.run([sys.executable, "-m", "qa", "index", "--corpus", str(SEED_CORPUS), "--index", str(index),
                            "-q", "--json", "--variant", "torch-fp32", "--device", "cpu"], env=env, cwd=repo,
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-2000:]
    assert json.loads(built.stdout)["documents"] == 2
    assert store.load(index).manifest.model.variant == "torch-fp32"
    proc = subprocess.run([sys.executable, "-m", "qa", "ask", "When did Russia withdraw its S-300 systems from Syria?",
                           "--index", str(index), "--json"], env=env, cwd=repo, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["passages"][0]["file"] == ISW_DOC
