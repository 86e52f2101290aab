"""The typed manifest: a real build's manifest.json round-trips exactly, every damaged part is refused by
``Manifest.from_dict`` (the end-to-end refusals, via the library and `qa ask`, are in test_index_damage.py), and an
index written by an older qa, without the keys added since, still loads, answers and is rebuilt."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import pytest

from qa.assistant import Assistant
from qa.embed.embedders import ModelInfo
from qa.errors import IndexCorruptError
from qa.index import store
from qa.index.build import build_index
from qa.index.manifest import REQUIRED_FILES, Counts, IndexEntry, Manifest
from qa.ingest.readers import Problem


def manifest_json(index: Path) -> dict:
    return json.loads((store.current_generation(index) / "manifest.json").read_text())


@pytest.fixture
def built(small_corpus: Path, tmp_path: Path, embedder) -> Path:
    (small_corpus / "broken.jsonl").write_text('{"_id": "a", "text": "A fine record."}\nnot json\n')
    build_index(small_corpus, tmp_path / "index", embedder, progress=False, index_kind="hnsw")
    return tmp_path / "index"


def test_a_built_manifest_round_trips_exactly(built: Path) -> None:
    data = manifest_json(built)
    manifest = Manifest.from_dict(data)
    assert manifest.to_dict() == data
    assert list(manifest.to_dict()) == list(data)  # the same key order: the file reads the same
    assert Manifest.from_dict(json.loads(json.dumps(manifest.to_dict()))) == manifest
    assert store.load(built).manifest == manifest


def test_the_typed_parts_hold_what_the_build_wrote(built: Path, embedder) -> None:
    manifest = store.load(built).manifest
    assert manifest.model == ModelInfo.of(embedder)
    assert manifest.index.spec.kind == "hnsw" and manifest.index.requested == "hnsw"
    assert manifest.counts == Counts(documents=4, chunks=manifest.counts.chunks, problems=1)
    assert manifest.problems == (Problem("broken.jsonl", manifest.problems[0].reason),)
    assert set(REQUIRED_FILES) <= set(manifest.files) and all(len(f.sha256) == 64 for f in manifest.files.values())
    with pytest.raises(dataclasses.FrozenInstanceError):
        manifest.built_at = "now"  # type: ignore[misc]


def test_keys_this_qa_does_not_know_survive_a_round_trip(built: Path) -> None:
    data = {**manifest_json(built), "written_by": {"qa": "9.9"}}
    manifest = Manifest.from_dict(data)
    assert manifest.extra == {"written_by": {"qa": "9.9"}}
    assert manifest.to_dict() == data


def valid() -> dict:
    return {"model": {"name": "hashing-64", "fingerprint": "hashing-v1-64", "dim": 64},
            "counts": {"documents": 1, "chunks": 1}, "built_at": "2025-01-01T00:00:00+0000", "format_version": 1,
            "files": {name: {"sha256": "0" * 64, "bytes": 1} for name in REQUIRED_FILES}}


# Refusals of parts the end-to-end table in test_index_damage.py does not edit.
DAMAGE = {
    "not-an-object": (lambda m: ["a", "list"], "format version None"),
    "version-as-text": (lambda m: {**m, "format_version": "1"}, "format version 1, this qa reads 1"),
    "model-not-an-object": (lambda m: {**m, "model": "hashing-64"}, "no model name and fingerprint"),
    "counts-not-whole": (lambda m: {**m, "counts": {"documents": 1, "chunks": 1.0}}, "no document and chunk counts"),
    "build-time-not-text": (lambda m: {**m, "built_at": 20250101}, "no build time"),
    "files-a-list": (lambda m: {**m, "files": list(m["files"])}, "no file checksums"),
    "empty-file-name": (lambda m: {**m, "files": {**m["files"], "": {"sha256": "0", "bytes": 0}}}, "points outside"),
    "size-as-text": (lambda m: {**m, "files": {**m["files"], "chunks.npz": {"sha256": "0", "bytes": "1"}}},
                     "no checksum for chunks.npz"),
    "file-shas-a-list": (lambda m: {**m, "file_sha256": []}, "file_sha256 is not a mapping"),
    "problems-an-object": (lambda m: {**m, "problems": {"a.txt": "why"}}, "skipped files are not a list"),
    "index-not-inner-product": (lambda m: {**m, "index": {"kind": "flat", "metric": "l2"}}, "inner-product"),
    "index-unknown-kind": (lambda m: {**m, "index": {"kind": "annoy"}}, "index kind 'annoy'"),
}


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_each_damaged_part_is_refused(case: str) -> None:
    damage, pattern = DAMAGE[case]
    with pytest.raises(IndexCorruptError, match=pattern):
        Manifest.from_dict(damage(copy.deepcopy(valid())))


def test_a_refusal_names_the_manifest_and_the_fix() -> None:
    path = Path("/data/index/generations/g-000001-x/manifest.json")
    with pytest.raises(IndexCorruptError, match=r"^the index at /data/index has format version 2, this qa reads 1: "
                                                r"rebuild it with `qa index --full`$"):
        Manifest.from_dict({**valid(), "format_version": 2}, path=path)
    with pytest.raises(IndexCorruptError, match=rf"^the index manifest {path} is damaged or edited \(no build time\): "
                                                r"rebuild it with `qa index --full`$"):
        Manifest.from_dict({k: v for k, v in valid().items() if k != "built_at"}, path=path)


OPTIONAL = ("index", "search", "chunking", "corpus", "build_seconds", "documents", "file_sha256", "problems")


def test_an_index_from_an_older_qa_without_the_optional_keys_loads(built: Path, small_corpus: Path,
                                                                    embedder) -> None:
    """As the oldest qa wrote it: none of the keys added since, nor the model's variant, nor the problem count."""
    path = store.current_generation(built) / "manifest.json"
    data = manifest_json(built)
    question = "Where does the Danube end?"
    before = Assistant.load(built, embedder=embedder).ask(question, mode="dense")
    old = {k: v for k, v in data.items() if k not in OPTIONAL}
    old["model"] = {k: data["model"][k] for k in ("name", "fingerprint", "dim")}
    old["counts"] = {k: data["counts"][k] for k in ("documents", "chunks")}
    old["index"] = {"kind": "hnsw", "metric": "inner_product", "m": 32, "ef_construction": 80,
                    "ef_search": 1024, "storage": "fp16"}  # the FAISS file is the one built, so its kind must match
    path.write_text(json.dumps(old, indent=2))

    manifest = store.load(built).manifest
    assert manifest.to_dict() == {**old, "index": {**old["index"], "requested": "auto"}, "documents": {},
                                  "file_sha256": {}, "problems": []}  # the defaults these keys were always read with
    assert (manifest.model.variant, manifest.chunking, manifest.search, manifest.counts.problems) == (None,) * 4
    after = Assistant.load(built, embedder=embedder).ask(question, mode="dense")
    assert [p.chunk_id for p in after.passages] == [p.chunk_id for p in before.passages]
    # the next build cannot trust what it does not know (the chunk settings), so it starts over, and writes them all
    report = build_index(small_corpus, built, embedder, progress=False)
    assert report.chunks_embedded == 0 and report.notes == (
        "previous index used another model or chunk settings; building from scratch",)
    assert set(manifest_json(built)) == set(data)


def test_an_index_entry_without_the_requested_kind_reads_as_auto() -> None:
    spec = {"kind": "flat", "metric": "inner_product", "storage": "fp16"}
    assert IndexEntry.from_dict(spec).requested == "auto"
    assert Manifest.from_dict(valid()).index == IndexEntry.from_dict({})  # no entry at all: flat fp32, as before
    assert Manifest.from_dict(valid()).index.spec.storage == "fp32"
