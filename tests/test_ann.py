"""ANN index kinds: choice by size or flag, recall against exact search, manifest and load round trip."""

from __future__ import annotations

import json
from pathlib import Path

import faiss
import numpy as np
import pytest

from qa.assistant import Assistant
from qa.errors import IndexCorruptError, SettingsError
from qa.index import store, vector_index
from qa.index.build import build_index


def clustered(n: int, dim: int = 32, clusters: int = 40, seed: int = 0) -> np.ndarray:
    """Unit vectors around random centres: structured like embeddings, unlike uniform noise."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim))
    x = centres[rng.integers(0, clusters, n)] + 0.6 * rng.standard_normal((n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_auto_is_exact_below_the_threshold_and_ivf_above() -> None:
    assert vector_index.choose_spec(vector_index.ANN_THRESHOLD - 1).kind == "flat"
    assert vector_index.choose_spec(vector_index.ANN_THRESHOLD).kind == "ivf"
    assert vector_index.choose_spec(10, "hnsw").kind == "hnsw"
    assert vector_index.choose_spec(10**9, "flat").kind == "flat"


def test_ivf_buckets_follow_size_and_never_outnumber_training_points() -> None:
    assert vector_index.choose_spec(1_000_000, "ivf").nlist == 2048
    assert vector_index.choose_spec(100, "ivf").nlist == 2  # 100 // 39: k-means needs points in every bucket
    assert vector_index.choose_spec(5, "ivf").nlist == 1
    assert vector_index.choose_spec(1_000_000, "ivf", nlist=300).nlist == 300


@pytest.mark.parametrize("bad", [{"kind": "annoy"}, {"kind": "hnsw", "m": 0}, {"kind": "ivf", "nprobe": 0}])
def test_bad_specs_name_the_value(bad: dict) -> None:
    with pytest.raises(SettingsError, match="annoy|m=0|nprobe=0"):
        vector_index.IndexSpec(**bad)


def test_spec_round_trips_through_the_manifest_form() -> None:
    specs = (vector_index.IndexSpec(), vector_index.IndexSpec("hnsw", m=16, ef_search=40),
             vector_index.IndexSpec("ivf", nlist=64))
    for spec in specs:
        assert vector_index.IndexSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert vector_index.IndexSpec("flat").to_dict() == {"kind": "flat", "metric": "inner_product", "storage": "fp16"}
    with pytest.raises(IndexCorruptError):
        vector_index.IndexSpec.from_dict({"kind": "flat", "metric": "l2"})
    with pytest.raises(IndexCorruptError, match="storage 'fp8'"):
        vector_index.IndexSpec.from_dict({"kind": "flat", "metric": "inner_product", "storage": "fp8"})


def test_a_manifest_from_before_vector_storage_means_fp32() -> None:
    assert vector_index.IndexSpec.from_dict({"kind": "flat", "metric": "inner_product"}).storage == "fp32"
    assert vector_index.choose_spec(10).storage == "fp16"


EXACT = vector_index.IndexSpec("flat", storage="fp32")


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_fp16_storage_halves_the_vectors_and_keeps_the_ranking(kind: str) -> None:
    vectors, queries = clustered(3000, dim=64), clustered(100, dim=64, seed=1)
    exact_scores, exact = vector_index.build(vectors, EXACT).search(queries, 10)
    wide = vector_index.build(vectors, vector_index.choose_spec(len(vectors), kind, storage="fp32"))
    half = vector_index.build(vectors, vector_index.choose_spec(len(vectors), kind))
    assert vector_index._storage_kind(half) == (kind, "fp16") and vector_index._storage_kind(wide) == (kind, "fp32")
    # 64 components of 2 bytes instead of 4; graph links and bucket ids are the same in both
    saved = len(faiss.serialize_index(wide)) - len(faiss.serialize_index(half))
    assert saved >= 0.95 * len(vectors) * 64 * 2
    scores, rows = half.search(queries, 10)
    _, wide_rows = wide.search(queries, 10)
    assert vector_index.recall_at_k(rows, wide_rows) >= 0.98
    if kind == "flat":
        assert vector_index.recall_at_k(rows, exact) >= 0.99
        assert np.abs(scores - exact_scores).max() < 2e-3


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_ann_recall_against_exact_search(kind: str) -> None:
    vectors, queries = clustered(6000), clustered(200, seed=1)
    _, exact = vector_index.build(vectors, EXACT).search(queries, 10)
    index = vector_index.build(vectors, vector_index.choose_spec(len(vectors), kind))
    _, approx = index.search(queries, 10)
    assert vector_index.recall_at_k(approx, exact) >= 0.95
    assert index.ntotal == len(vectors)


def test_recall_counts_shared_ids_only() -> None:
    exact = np.array([[1, 2, 3, 4], [5, 6, -1, -1]])
    assert vector_index.recall_at_k(np.array([[4, 3, 9, 8], [6, 5, -1, -1]]), exact) == pytest.approx(4 / 6)


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_restricted_search_keeps_to_the_allowed_rows_and_the_index_breadth(kind: str) -> None:
    vectors = clustered(3000)
    index = vector_index.build(vectors, vector_index.choose_spec(len(vectors), kind))
    allowed = np.arange(0, 3000, 7)
    params = vector_index.restricted(index, faiss.IDSelectorBatch(allowed.astype(np.int64)))
    if kind == "hnsw":
        assert isinstance(params, faiss.SearchParametersHNSW) and params.efSearch == index.hnsw.efSearch
    elif kind == "ivf":
        assert isinstance(params, faiss.SearchParametersIVF) and params.nprobe == index.nprobe > 1
    _, rows = index.search(vectors[allowed[:20]], 5, params=params)
    assert set(rows[rows >= 0].tolist()) <= set(allowed.tolist())
    assert rows[:, 0].tolist() == allowed[:20].tolist()  # each allowed vector finds itself first


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_build_stores_the_kind_and_load_configures_it(small_corpus: Path, tmp_path: Path, embedder, kind) -> None:
    index = tmp_path / "index"
    build_index(small_corpus, index, embedder, progress=False, index_kind=kind)
    data = store.load(index)
    entry = data.manifest.index.to_dict()
    assert entry["kind"] == kind and entry["requested"] == kind and entry["metric"] == "inner_product"
    if kind == "hnsw":
        assert isinstance(data.faiss_index, faiss.IndexHNSW) and data.faiss_index.hnsw.efSearch == entry["ef_search"]
    else:
        assert isinstance(data.faiss_index, faiss.IndexIVF) and data.faiss_index.nprobe == min(entry["nprobe"],
                                                                                                 entry["nlist"])
    flat = tmp_path / "flat"
    build_index(small_corpus, flat, embedder, progress=False)
    question = "Where does the Rhine end?"
    approx = Assistant.load(index, embedder=embedder).ask(question, mode="dense")
    exact = Assistant.load(flat, embedder=embedder).ask(question, mode="dense")
    assert [p.chunk_id for p in approx.passages] == [p.chunk_id for p in exact.passages]


def test_rebuild_keeps_the_requested_kind_and_a_new_flag_replaces_it(small_corpus: Path, tmp_path: Path,
                                                                      embedder) -> None:
    index = tmp_path / "index"
    first = build_index(small_corpus, index, embedder, progress=False, index_kind="hnsw")
    (small_corpus / "new.txt").write_text("Volcanoes erupt when magma rises.")
    changed = build_index(small_corpus, index, embedder, progress=False)
    assert changed.generation != first.generation and store.load(index).manifest.index.spec.kind == "hnsw"
    unchanged = build_index(small_corpus, index, embedder, progress=False)
    switched = build_index(small_corpus, index, embedder, progress=False, index_kind="auto")
    assert unchanged.generation == changed.generation and unchanged.chunks_embedded == 0
    assert switched.generation != unchanged.generation and switched.chunks_embedded == 0
    assert store.load(index).manifest.index.to_dict() == {"kind": "flat", "metric": "inner_product", "storage": "fp16",
                                                   "requested": "auto"}


def test_an_fp32_index_from_before_storage_loads_and_the_next_build_halves_it(small_corpus: Path, tmp_path: Path,
                                                                              embedder, monkeypatch) -> None:
    index = tmp_path / "index"
    monkeypatch.setattr(vector_index, "choose_spec", lambda n, kind="auto", **params: EXACT)
    build_index(small_corpus, index, embedder, progress=False)
    gen = store.current_generation(index)
    manifest = json.loads((gen / "manifest.json").read_text())
    manifest["index"] = {"kind": "flat", "metric": "inner_product", "requested": "auto"}  # as an older qa wrote it
    (gen / "manifest.json").write_text(json.dumps(manifest))
    old = Assistant.load(index, embedder=embedder).ask("Where does the Rhine end?", mode="dense")
    assert isinstance(store.load(index).faiss_index, faiss.IndexFlat)
    monkeypatch.undo()
    upgraded = build_index(small_corpus, index, embedder, progress=False)
    assert upgraded.generation != gen.name and upgraded.chunks_embedded == 0
    assert isinstance(store.load(index).faiss_index, faiss.IndexScalarQuantizer)
    new = Assistant.load(index, embedder=embedder).ask("Where does the Rhine end?", mode="dense")
    assert [p.chunk_id for p in new.passages] == [p.chunk_id for p in old.passages]


def test_a_manifest_that_misnames_the_index_kind_is_refused(small_corpus: Path, tmp_path: Path, embedder) -> None:
    index = tmp_path / "index"
    build_index(small_corpus, index, embedder, progress=False)
    gen = store.current_generation(index)
    manifest = json.loads((gen / "manifest.json").read_text())
    manifest["index"] = {"kind": "hnsw", "metric": "inner_product", "m": 32, "ef_construction": 80, "ef_search": 64}
    (gen / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexCorruptError, match="hnsw index .fp32. but vectors.faiss holds"):
        store.load(index)
    manifest["index"] = {"kind": "flat", "metric": "inner_product", "storage": "fp32"}
    (gen / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexCorruptError, match="flat index .fp32. but vectors.faiss holds a IndexScalarQuantizer"):
        store.load(index)


@pytest.mark.parametrize("storage", ["fp16", "fp32"])
@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_vectors_of_reads_any_row_as_the_index_holds_it(kind: str, storage: str) -> None:
    vectors = clustered(2000)
    index = vector_index.build(vectors, vector_index.choose_spec(len(vectors), kind, storage=storage))
    rows = np.array([0, 1999, 17, 17, 640])
    got = vector_index.vectors_of(index, rows)
    assert got.shape == (5, 32) and got.dtype == np.float32
    assert np.abs(got - vectors[rows]).max() < (1e-3 if storage == "fp16" else 1e-7)


def test_an_ivf_index_written_without_a_row_map_gets_one_when_loaded() -> None:
    vectors = clustered(2000)
    spec = vector_index.choose_spec(len(vectors), "ivf")
    index = vector_index.build(vectors, spec)
    index.make_direct_map(False)  # as qa wrote IVF indexes before ``vectors_of``
    old = faiss.deserialize_index(faiss.serialize_index(index))
    assert old.direct_map.type == faiss.DirectMap.NoMap
    vector_index.configure(old, spec)
    assert np.abs(vector_index.vectors_of(old, np.array([5, 6])) - vectors[[5, 6]]).max() < 1e-3
