"""Embedding variants: the automatic choice, the manifest record, and which variant searches an index."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from qa.assistant import Assistant
from qa.embed import runtimes
from qa.embed.embedders import (
    PACKAGED_MODEL,
    HashingEmbedder,
    ModelInfo,
    SentenceTransformerEmbedder,
    embedder_for,
    query_embedder,
)
from qa.errors import IndexCorruptError, ModelError, SettingsError
from qa.index import store
from qa.index.build import build_index


@pytest.fixture
def no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtimes, "cuda_available", lambda: False)


def test_auto_on_a_cpu_machine_prefers_openvino(no_gpu, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtimes, "_best_openvino", lambda: "openvino-bf16")
    monkeypatch.setattr(runtimes, "openvino_available", lambda: True)
    assert runtimes.resolve("auto", "auto") == ("openvino-bf16", "cpu")
    assert runtimes.resolve(None, "cpu") == ("openvino-bf16", "cpu")
    monkeypatch.setattr(runtimes, "openvino_available", lambda: False)
    assert runtimes.resolve("auto", "auto") == ("torch-fp32", "cpu")


def test_auto_with_a_gpu_is_half_precision_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtimes, "cuda_available", lambda: True)
    assert runtimes.resolve("auto", "auto") == ("torch-fp16", "cuda")
    assert runtimes.resolve("torch-fp32", "cuda:1") == ("torch-fp32", "cuda:1")
    assert runtimes.resolve("auto", "cpu")[1] == "cpu"


@pytest.mark.parametrize(("variant", "device", "message"), [
    ("int4", "auto", "unknown embedding variant 'int4'"),
    ("auto", "tpu", "unknown device 'tpu'"),
    ("torch-fp16", "cpu", "needs a CUDA GPU"),
    ("openvino-bf16", "cuda", "runs on the CPU only"),
])
def test_impossible_choices_are_refused_with_the_fix(no_gpu, variant: str, device: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        runtimes.resolve(variant, device)


def test_explicit_openvino_without_the_package_says_what_to_do(no_gpu, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtimes, "openvino_available", lambda: False)
    with pytest.raises(ModelError, match="needs the openvino package"):
        runtimes.resolve("openvino-fp32", "cpu")


def test_a_build_uses_the_named_model_else_the_index_s_else_the_packaged_one(tmp_path: Path) -> None:
    assert embedder_for("hashing-64", built_with="hashing-32").name == "hashing-64"
    assert isinstance(embedder_for(built_with="hashing-32"), HashingEmbedder)
    assert embedder_for(built_with="hashing-32").dim == 32
    packaged = embedder_for(device="cpu", variant="torch-fp32", model_cache=tmp_path / "models")
    assert isinstance(packaged, SentenceTransformerEmbedder) and packaged.name == PACKAGED_MODEL
    assert (packaged.requested_device, packaged.requested_variant, packaged.model_cache) == (
        "cpu", "torch-fp32", tmp_path / "models")
    with pytest.raises(ModelError, match="unknown embedding model ''"):
        embedder_for("")  # an empty name is a mistake, not "the default"


def test_an_index_is_searched_with_its_own_variant_where_it_runs(no_gpu, monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    monkeypatch.setattr(runtimes, "openvino_available", lambda: True)
    monkeypatch.setattr(runtimes, "_best_openvino", lambda: "openvino-bf16")
    model = ModelInfo(PACKAGED_MODEL, "fingerprint", variant="torch-fp32")
    embedder = query_embedder(model, tmp_path / "models")
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert (embedder.variant, embedder.model_cache) == ("torch-fp32", tmp_path / "models")
    assert embedder.threads == runtimes.QUERY_THREADS  # one question at a time: one thread
    # built on a GPU, searched on this CPU: the best CPU variant (same vectors to within rounding)
    assert query_embedder(replace(model, variant="torch-fp16")).variant == "openvino-bf16"
    monkeypatch.setattr(runtimes, "_best_openvino", lambda: "openvino-fp32")
    assert query_embedder(replace(model, variant="openvino-bf16")).variant == "openvino-fp32"
    monkeypatch.setattr(runtimes, "openvino_available", lambda: False)
    assert query_embedder(replace(model, variant="openvino-bf16")).variant == "torch-fp32"
    # an index from before variants were recorded: this machine's best
    assert query_embedder(ModelInfo(PACKAGED_MODEL, "fingerprint")).variant == "torch-fp32"


def test_an_index_from_an_unknown_variant_is_refused(small_corpus: Path, tmp_path: Path, embedder) -> None:
    index = tmp_path / "index"
    build_index(small_corpus, index, embedder, progress=False)
    assert store.load(index).manifest.model.variant == "hashing"
    gen = store.current_generation(index)
    manifest = json.loads((gen / "manifest.json").read_text())
    manifest["model"] = {**manifest["model"], "name": PACKAGED_MODEL, "variant": "onnx-int8"}
    (gen / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexCorruptError, match="variant 'onnx-int8'.*qa index --full"):
        Assistant.load(index)


def test_user_state_of_a_test_run_is_private(_private_home: Path) -> None:
    """The real model's user cache (the OpenVINO export) goes to this run's own home, never the user's."""
    assert SentenceTransformerEmbedder().model_cache == _private_home / ".cache" / "qa" / "models"
    assert Path.home() == _private_home


def test_batches_by_token_count_pad_least_and_keep_every_row_once() -> None:
    lengths = [int(n) for n in np.random.default_rng(3).integers(3, 256, size=203)]
    batches = runtimes.length_batches(lengths, 16)
    assert sorted(row for batch in batches for row in batch) == list(range(len(lengths)))
    assert all(len(batch) == 16 for batch in batches[:-1])

    def padded(batches: list[list[int]]) -> int:
        return sum(max(lengths[i] for i in batch) * len(batch) for batch in batches)

    # the reference: any other grouping into batches of 16 runs at least as many tokens
    for seed in range(20):
        shuffled = [int(i) for i in np.random.default_rng(seed).permutation(len(lengths))]
        assert padded(batches) <= padded([shuffled[s:s + 16] for s in range(0, len(shuffled), 16)])


def test_a_padded_batch_masks_exactly_the_padding() -> None:
    rows = [[101, 5, 6, 102], [101, 102], [101, 9, 102]]
    ids, mask = runtimes.padded_batch(rows)
    assert ids.shape == mask.shape == (3, 4) and ids.dtype == mask.dtype == np.int64
    assert [list(r[m == 1]) for r, m in zip(ids, mask, strict=True)] == rows
    assert (ids[mask == 0] == 0).all()


LIMITED = """import sys
import numpy as np
from qa.embed import runtimes
if sys.argv[1] != "all":
    runtimes.limit_threads(int(sys.argv[1]))
import os
import openvino.opset13 as ops
ov = runtimes.import_openvino()
x = ops.parameter([1, 64], np.float32)
model = ov.Model([ops.matmul(x, ops.constant(np.ones((64, 64), np.float32)), False, False)], [x])
compiled = runtimes.openvino_core().compile_model(model, "CPU", {"PERFORMANCE_HINT": "THROUGHPUT"})
print(os.environ.get("OMP_NUM_THREADS") or 0, compiled.get_property("INFERENCE_NUM_THREADS"))  # torch reads the first
"""


@pytest.mark.skipif(not runtimes.openvino_available(), reason="openvino is not installed")
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs two cores to tell one thread from all")
def test_limit_threads_caps_torch_and_openvino_in_the_process(tmp_path: Path) -> None:
    """What a Ray embedding actor holding one CPU does first: without it, each actor took every core."""
    script = tmp_path / "limited.py"
    script.write_text(LIMITED)

    def threads(limit: str) -> list[int]:
        ran = subprocess.run([sys.executable, str(script), limit], capture_output=True, text=True, check=True,
                             env={**os.environ, "OMP_NUM_THREADS": ""}, cwd=Path(__file__).resolve().parent.parent)
        return [int(n) for n in ran.stdout.split()]

    assert threads("1") == [1, 1]
    assert threads("all") == [0, os.cpu_count()]
