"""The incremental, atomic rebuild and the load checks, with the fast hashing embedder."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from filelock import FileLock

from qa.assistant import Assistant
from qa.embed.embedders import HashingEmbedder
from qa.errors import (
    CorpusError,
    IndexBusyError,
    IndexCorruptError,
    IndexMissingError,
    IndexWriteError,
    ModelError,
)
from qa.index import store
from qa.index.build import build_index
from qa.settings import ChunkSettings, Settings


def test_build_writes_a_complete_self_describing_generation(small_corpus: Path, tmp_path: Path, embedder) -> None:
    report = build_index(small_corpus, tmp_path / "index", embedder, progress=False)
    assert report.added == ("apples.md", "rivers.txt", "stars.txt")
    assert report.chunks_embedded == report.chunks > 0 and report.chunks_reused == 0
    data = store.load(tmp_path / "index")
    manifest = data.manifest
    assert manifest.format_version == 1
    assert manifest.model.to_dict() == {"name": "hashing-64", "fingerprint": "hashing-v1-64", "dim": 64,
                                        "max_tokens": 256, "variant": "hashing"}
    assert manifest.chunking == ChunkSettings().to_dict()
    assert set(manifest.document_fingerprints) == {"apples.md", "rivers.txt", "stars.txt"}
    assert set(manifest.files) >= {"vectors.faiss", "vectors.npy", "chunks.npz", "documents.jsonl"}
    assert manifest.counts.to_dict() == {"documents": 3, "chunks": report.chunks, "problems": 0}
    # every chunk is its document's text at the recorded offsets, and its vector is its embedding
    vectors = np.load(data.path / "vectors.npy")
    for row in range(len(data.chunks)):
        chunk = data.chunk(row)
        doc = next(d for d in data.documents if d.doc_id == chunk.doc_id)
        assert chunk.text == doc.text[chunk.start:chunk.end]
        assert np.isclose(float(vectors[row] @ vectors[row]), 1.0, atol=1e-5)


def test_second_build_embeds_nothing(small_corpus: Path, tmp_path: Path, embedder) -> None:
    first = build_index(small_corpus, tmp_path / "index", embedder, progress=False)
    embedded = embedder.texts_embedded
    second = build_index(small_corpus, tmp_path / "index", embedder, progress=False)
    assert embedder.texts_embedded == embedded
    assert (second.chunks_embedded, second.chunks_reused) == (0, first.chunks)
    assert second.added == second.changed == second.removed == () and second.unchanged == 3


def test_only_changed_chunks_are_embedded(small_corpus: Path, tmp_path: Path, embedder) -> None:
    index = tmp_path / "index"
    build_index(small_corpus, index, embedder, settings=Settings(chunk=ChunkSettings(max_tokens=16, overlap_tokens=0)),
                progress=False)
    rivers = small_corpus / "rivers.txt"
    rivers.write_text(rivers.read_text().replace("ten countries", "10 countries"))
    (small_corpus / "stars.txt").unlink()
    (small_corpus / "new.txt").write_text("Brand new document about volcanoes erupting.")
    before = embedder.texts_embedded
    report = build_index(small_corpus, index, embedder,
                         settings=Settings(chunk=ChunkSettings(max_tokens=16, overlap_tokens=0)), progress=False)
    assert report.added == ("new.txt",) and report.changed == ("rivers.txt",) and report.removed == ("stars.txt",)
    # rivers.txt: only its changed sentence's chunk is new; the title chunk and the Rhine chunk come from cache
    assert report.chunks_embedded == embedder.texts_embedded - before == 2
    data = store.load(index)
    assert {d.doc_id for d in data.documents} == {"apples.md", "rivers.txt", "new.txt"}
    assert not any("neutron" in data.chunk(r).text.lower() for r in range(len(data.chunks)))


def test_full_rebuild_reuses_cache_but_rechunks(small_corpus: Path, tmp_path: Path, embedder) -> None:
    build_index(small_corpus, tmp_path / "index", embedder, progress=False)
    before = embedder.texts_embedded
    report = build_index(small_corpus, tmp_path / "index", embedder, full=True, progress=False)
    assert report.chunks_embedded == 0 and embedder.texts_embedded == before
    assert report.added == ("apples.md", "rivers.txt", "stars.txt")


def test_other_model_triggers_full_rebuild(small_corpus: Path, tmp_path: Path) -> None:
    build_index(small_corpus, tmp_path / "index", HashingEmbedder(64), progress=False)
    report = build_index(small_corpus, tmp_path / "index", HashingEmbedder(32), progress=False)
    assert report.chunks_embedded == report.chunks and "another model" in report.notes[0]


def test_crash_while_writing_leaves_previous_index(small_corpus: Path, tmp_path: Path, embedder, monkeypatch) -> None:
    index = tmp_path / "index"
    build_index(small_corpus, index, embedder, progress=False)
    live = store.current_generation(index)
    (small_corpus / "rivers.txt").write_text("Completely different text now.")

    def explode(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store.np, "savez", explode)
    with pytest.raises(IndexWriteError, match="no space left on device.*previous index is intact"):
        build_index(small_corpus, index, embedder, progress=False)
    monkeypatch.undo()
    assert store.current_generation(index) == live
    assert not list((index / "generations").glob(".tmp-*"))
    answer = Assistant.load(index, embedder=embedder).ask("Danube Black Sea", k=1)
    assert answer.passages[0].path == "rivers.txt" and "Danube" in answer.passages[0].text


def test_concurrent_build_is_refused_with_a_message(small_corpus: Path, tmp_path: Path, embedder) -> None:
    index = tmp_path / "index"
    index.mkdir()
    with FileLock(str(index / "build.lock")), pytest.raises(IndexBusyError, match="another `qa index`"):
        build_index(small_corpus, index, embedder, progress=False)


def test_empty_corpus_is_an_error_and_keeps_the_index(small_corpus: Path, tmp_path: Path, embedder) -> None:
    index = tmp_path / "index"
    build_index(small_corpus, index, embedder, progress=False)
    live = store.current_generation(index)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CorpusError, match="no readable documents"):
        build_index(empty, index, embedder, progress=False)
    with pytest.raises(CorpusError, match="not found"):
        build_index(tmp_path / "missing", index, embedder, progress=False)
    assert store.current_generation(index) == live


def test_unreadable_files_are_reported_and_the_rest_indexed(small_corpus: Path, tmp_path: Path, embedder) -> None:
    (small_corpus / "empty.txt").write_bytes(b"")
    (small_corpus / "image.png").write_bytes(b"\x89PNG")
    report = build_index(small_corpus, tmp_path / "index", embedder, progress=False)
    assert {p.path for p in report.problems} == {"empty.txt", "image.png"}
    assert report.documents == 3


@pytest.mark.parametrize("damage", ["missing", "bad_json", "version", "checksum", "truncated_faiss", "pointer"])
def test_damaged_index_is_refused_with_the_fix(small_corpus: Path, tmp_path: Path, embedder, damage: str) -> None:
    index = tmp_path / "index"
    build_index(small_corpus, index, embedder, progress=False)
    gen = store.current_generation(index)
    if damage == "missing":
        index = tmp_path / "nowhere"
    elif damage == "bad_json":
        (gen / "manifest.json").write_text("{not json")
    elif damage == "version":
        manifest = json.loads((gen / "manifest.json").read_text())
        manifest["format_version"] = 99
        (gen / "manifest.json").write_text(json.dumps(manifest))
    elif damage == "checksum":
        with (gen / "documents.jsonl").open("a") as handle:
            handle.write("\n")
    elif damage == "truncated_faiss":
        path = gen / "vectors.faiss"
        path.write_bytes(path.read_bytes()[: os.path.getsize(path) // 2])
    elif damage == "pointer":
        (index / "CURRENT").write_text("g-999999-gone\n")
    error = IndexMissingError if damage == "missing" else IndexCorruptError
    with pytest.raises(error, match="qa index"):
        Assistant.load(index, embedder=embedder)


def test_index_built_with_another_model_is_refused(small_corpus: Path, tmp_path: Path) -> None:
    build_index(small_corpus, tmp_path / "index", HashingEmbedder(64), progress=False)
    with pytest.raises(IndexCorruptError, match="different model.*qa index --full"):
        Assistant.load(tmp_path / "index", embedder=HashingEmbedder(32))


def test_old_generations_are_pruned(small_corpus: Path, tmp_path: Path, embedder) -> None:
    index = tmp_path / "index"
    built = []
    for i in range(4):
        (small_corpus / "rivers.txt").write_text(f"Version {i} of the rivers text.")
        built.append(build_index(small_corpus, index, embedder, progress=False).generation)
    assert len(set(built)) == 4
    # a build prunes to the two newest before it writes its own: the live one and the two before it remain
    assert sorted(p.name for p in (index / "generations").iterdir()) == built[-3:]
    assert store.current_generation(index).name == built[-1]


def test_a_loaded_collection_holds_its_shared_path_once(tmp_path: Path, embedder) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    lines = [json.dumps({"_id": str(i), "title": f"T{i}", "text": f"Body {i} about rivers and lakes."})
             for i in range(4)]
    (corpus / "papers.jsonl").write_text("\n".join(lines) + "\n")
    build_index(corpus, tmp_path / "index", embedder, progress=False)
    documents = store.load(tmp_path / "index").documents
    assert [d.doc_id for d in documents] == [f"papers.jsonl#{i}" for i in range(4)]
    assert all(d.path is documents[0].path == "papers.jsonl" for d in documents)
    assert not hasattr(documents[0], "__dict__")  # slotted records: no per-document attribute dict


class _SlowToPrepare(HashingEmbedder):
    """Records how preparing the model and chunking the corpus overlapped; ``fail`` makes preparing fail."""

    def __init__(self, fail: bool = False):
        super().__init__(64)
        self.fail = fail
        self.preparing = threading.Event()
        self.prepared_in: list[str] = []
        self.chunking_saw_preparing: list[bool] = []

    def prepare(self) -> None:
        self.preparing.set()
        self.prepared_in.append(threading.current_thread().name)
        if self.fail:
            raise ModelError("cannot load the embedding model: run scripts/setup.sh")

    def token_spans(self, text: str):
        # chunking waits (briefly) for the model's preparation to have started: it never starts in a sequential build
        self.chunking_saw_preparing.append(self.preparing.wait(timeout=2))
        return super().token_spans(text)


def test_the_model_is_prepared_in_a_second_thread_while_the_corpus_is_chunked(small_corpus: Path,
                                                                               tmp_path: Path) -> None:
    embedder = _SlowToPrepare()
    build_index(small_corpus, tmp_path / "index", embedder, progress=False)
    assert embedder.chunking_saw_preparing and all(embedder.chunking_saw_preparing)
    assert embedder.prepared_in[0].startswith("qa-prepare")
    again = _SlowToPrepare()  # nothing changed: the model is not even prepared
    assert build_index(small_corpus, tmp_path / "index", again, progress=False).chunks_embedded == 0
    assert again.prepared_in == []


def test_a_model_that_cannot_be_prepared_fails_the_build_and_leaves_no_generation(small_corpus: Path,
                                                                                 tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="run scripts/setup.sh"):
        build_index(small_corpus, tmp_path / "index", _SlowToPrepare(fail=True), progress=False)
    with pytest.raises(IndexMissingError):
        store.load(tmp_path / "index")
