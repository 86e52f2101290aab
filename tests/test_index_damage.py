"""A damaged index, file by file: every way is refused by the load checks with the rebuild command, via the library
and via `qa ask`, and the next `qa index` repairs it. The file list comes from the manifest, so files other stages
add to a generation (BM25's) are covered as they appear.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa.assistant import Assistant
from qa.errors import IndexCorruptError, IndexMissingError
from qa.index import store
from qa.index.build import build_index
from qa.index.manifest import REQUIRED_FILES
from qa.serve.cli import main

FIX = "rebuild it with `qa index --full`"


@pytest.fixture
def index(small_corpus: Path, tmp_path: Path, embedder) -> Path:
    build_index(small_corpus, tmp_path / "index", embedder, progress=False)
    return tmp_path / "index"


@pytest.fixture(autouse=True)
def fast_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_MODEL", "hashing-64")


def generation_files(index: Path) -> list[str]:
    return sorted(store.read_manifest(store.current_generation(index)).files)


def refused(index: Path, embedder, capsys, pattern: str) -> None:
    """Refused by the library and by `qa ask` (exit 1, one line), both naming the problem and the fix."""
    with pytest.raises(IndexCorruptError, match=pattern) as error:
        Assistant.load(index, embedder=embedder)
    assert "qa index" in str(error.value)
    capsys.readouterr()
    assert main(["ask", "Danube", "--index", str(index)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("qa: error: ") and err.count("\n") == 1 and re.search(pattern, err) and "qa index" in err


def repaired_by_next_build(index: Path, small_corpus: Path, capsys) -> None:
    assert main(["index", "--corpus", str(small_corpus), "--index", str(index), "-q"]) == 0
    assert "building from scratch" in capsys.readouterr().out
    assert main(["ask", "Danube Black Sea", "--index", str(index), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["passages"][0]["file"] == "rivers.txt"


def test_the_generation_has_the_files_this_test_expects(index: Path) -> None:
    names = generation_files(index)
    assert set(REQUIRED_FILES) <= set(names)
    assert any(name.startswith("lexical/") for name in names)  # other stages' files are in the list too


@pytest.mark.parametrize("damage", ["truncated", "one-byte-edited", "emptied", "removed"])
def test_every_generation_file_damaged_is_refused_and_repaired(damage: str, index: Path, small_corpus: Path,
                                                               embedder, capsys) -> None:
    gen = store.current_generation(index)
    pristine = gen.with_name("pristine")
    shutil.copytree(gen, pristine)
    for name in generation_files(index):
        path = gen / name
        data = path.read_bytes()
        if damage == "truncated":
            path.write_bytes(data[: len(data) // 2])
        elif damage == "one-byte-edited":
            path.write_bytes(data[:-1] + bytes([data[-1] ^ 0x01]))
        elif damage == "emptied":
            path.write_bytes(b"")
        else:
            path.unlink()
        refused(index, embedder, capsys, f"index file .*{re.escape(name)} does not match its checksum")
        shutil.rmtree(gen)
        shutil.copytree(pristine, gen)
    assert Assistant.load(index, embedder=embedder).ask("Danube").passages
    # and once, the repair: the next plain `qa index` notices and builds a good generation
    (gen / "vectors.faiss").write_bytes(b"garbage")
    repaired_by_next_build(index, small_corpus, capsys)


def test_a_file_the_manifest_does_not_list_is_refused(index: Path, embedder, capsys) -> None:
    (store.current_generation(index) / "extra.npy").write_bytes(b"\x93NUMPY")
    refused(index, embedder, capsys, "extra.npy is not listed in the manifest")


def edit_manifest(index: Path, change) -> None:
    path = store.current_generation(index) / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


MANIFEST_DAMAGE = {
    "not-json": (lambda p: p.write_text("{ this is not json"), "not valid JSON"),
    "empty": (lambda p: p.write_bytes(b""), "not valid JSON"),
    "binary": (lambda p: p.write_bytes(b"\xff\xfe\x00garbage"), "not valid JSON"),
    "a-list": (lambda p: p.write_text("[1, 2]"), "format version None"),
    "removed": (lambda p: p.unlink(), "has no manifest.json"),
}
MANIFEST_EDITS = {
    "newer-format": (lambda m: m.update(format_version=99), "format version 99, this qa reads 1"),
    "older-format": (lambda m: m.pop("format_version"), "format version None"),
    "no-model": (lambda m: m.pop("model"), "no model name"),
    "model-not-named": (lambda m: m["model"].update(fingerprint=None), "no model name and fingerprint"),
    "no-build-time": (lambda m: m.pop("built_at"), "no build time"),
    "no-counts": (lambda m: m.update(counts={"documents": "3"}), "no document and chunk counts"),
    "no-checksums": (lambda m: m.pop("files"), "no file checksums"),
    "file-unlisted": (lambda m: m["files"].pop("chunks.npz"), "no checksum for chunks.npz"),
    "path-escape": (lambda m: m["files"].update({"../../CURRENT": {"sha256": "0", "bytes": 1}}), "points outside"),
    "path-absolute": (lambda m: m["files"].update({"/etc/passwd": {"sha256": "0", "bytes": 1}}), "points outside"),
    "bad-checksum-entry": (lambda m: m["files"].update({"vectors.npy": "abc"}), "no checksum for vectors.npy"),
    "count-edited": (lambda m: m["counts"].update(chunks=m["counts"]["chunks"] + 1), "mismatched vector and chunk"),
    "other-model": (lambda m: m["model"].update(fingerprint="some-other-model"), "different model"),
    "fingerprints-not-a-mapping": (lambda m: m.update(documents=["apples.md"]), "documents is not a mapping"),
    "problems-malformed": (lambda m: m.update(problems=[{"path": "a.txt"}]), "skipped files are not a list"),
}


@pytest.mark.parametrize("case", sorted(MANIFEST_DAMAGE))
def test_damaged_manifest_is_refused(case: str, index: Path, embedder, capsys) -> None:
    damage, pattern = MANIFEST_DAMAGE[case]
    damage(store.current_generation(index) / "manifest.json")
    refused(index, embedder, capsys, pattern)


@pytest.mark.parametrize("case", sorted(MANIFEST_EDITS))
def test_edited_manifest_is_refused(case: str, index: Path, small_corpus: Path, embedder, capsys) -> None:
    change, pattern = MANIFEST_EDITS[case]
    edit_manifest(index, change)
    refused(index, embedder, capsys, pattern)
    repaired_by_next_build(index, small_corpus, capsys)


@pytest.mark.parametrize(("content", "pattern"), [("", "does not name a generation"),
                                                   ("../../etc\n", "does not name a generation"),
                                                   ("g-000099-gone\n", "generation .* is missing")])
def test_damaged_current_pointer_is_refused(content: str, pattern: str, index: Path, small_corpus: Path, embedder,
                                           capsys) -> None:
    (index / "CURRENT").write_text(content)
    refused(index, embedder, capsys, pattern)
    repaired_by_next_build(index, small_corpus, capsys)


def test_missing_index_folder_names_the_build_command(tmp_path: Path, embedder, capsys) -> None:
    with pytest.raises(IndexMissingError, match="no index in .*: build one with `qa index`"):
        Assistant.load(tmp_path / "nowhere", embedder=embedder)
    assert main(["ask", "Danube", "--index", str(tmp_path / "nowhere")]) == 1
    assert "build one with `qa index`" in capsys.readouterr().err


def test_tampered_file_is_refused_before_any_parser_opens_it(index: Path, embedder,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The checksum is the gate: no parser (FAISS, numpy, JSON records, BM25) sees a file that fails it."""
    import faiss

    from qa import records
    from qa.index import lexical

    opened: list[str] = []

    def spy(name: str, real):
        def wrapper(*args, **kwargs):
            opened.append(name)
            return real(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(faiss, "read_index", spy("faiss", faiss.read_index))
    monkeypatch.setattr(np, "load", spy("numpy", np.load))
    monkeypatch.setattr(records.Document, "from_dict", spy("documents", records.Document.from_dict))
    for name in [n for n in dir(lexical.LexicalIndex) if n.startswith("from_") or n == "load"]:
        monkeypatch.setattr(lexical.LexicalIndex, name, spy("bm25", getattr(lexical.LexicalIndex, name)))
    gen = store.current_generation(index)
    for name in generation_files(index):
        original = (gen / name).read_bytes()
        (gen / name).write_bytes(original.replace(b"1", b"2", 1) if b"1" in original else original + b" ")
        with pytest.raises(IndexCorruptError, match="does not match its checksum"):
            Assistant.load(index, embedder=embedder)
        assert opened == [], f"{name}: {opened} parsed a file that failed its checksum"
        (gen / name).write_bytes(original)
    Assistant.load(index, embedder=embedder)
    assert "faiss" in opened  # the spies work: an intact index is parsed


def rewrite_with_checksum(gen: Path, name: str, data: bytes) -> None:
    """An edit that also fixes the manifest's checksum, as a careful attacker (or a buggy tool) would."""
    (gen / name).write_bytes(data)
    manifest = json.loads((gen / "manifest.json").read_text())
    manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (gen / "manifest.json").write_text(json.dumps(manifest))


def test_edited_chunk_store_with_fixed_checksum_is_still_refused(index: Path, embedder, capsys) -> None:
    gen = store.current_generation(index)
    with np.load(gen / "chunks.npz") as table:
        doc, start, end = table["doc"], table["start"], table["end"].copy()
    end[0] = 10**9  # a chunk that reaches past its document's text
    out = io.BytesIO()
    np.savez(out, doc=doc, start=start, end=end)
    rewrite_with_checksum(gen, "chunks.npz", out.getvalue())
    refused(index, embedder, capsys, "points outside its documents")


def test_pickled_array_with_fixed_checksum_is_refused_not_run(index: Path, embedder, capsys, tmp_path: Path) -> None:
    """An object array (numpy's pickle path) in place of the vectors: refused by allow_pickle=False, never run."""
    marker = tmp_path / "pwned"
    gen = store.current_generation(index)

    class Evil:
        def __reduce__(self):
            return (Path.touch, (marker,))

    out = io.BytesIO()
    np.save(out, np.array([Evil()], dtype=object), allow_pickle=True)
    for name in ("vectors.npy", "chunks.npz"):
        rewrite_with_checksum(gen, name, out.getvalue())
    for with_vectors in (False, True):
        with pytest.raises(IndexCorruptError, match="cannot be read"):
            store.load(index, with_vectors=with_vectors)
    refused(index, embedder, capsys, "cannot be read")
    assert not marker.exists()


def test_edited_documents_with_fixed_checksum_are_refused(index: Path, embedder, capsys) -> None:
    gen = store.current_generation(index)
    lines = (gen / "documents.jsonl").read_text().splitlines()
    lines[0] = json.dumps({**json.loads(lines[0]), "__class__": "os.system"})
    rewrite_with_checksum(gen, "documents.jsonl", ("\n".join(lines) + "\n").encode())
    refused(index, embedder, capsys, "cannot be read")


def test_damaged_embedding_cache_is_set_aside_and_the_build_goes_on(index: Path, small_corpus: Path, embedder,
                                                                    capsys) -> None:
    cache = index / "cache" / "embeddings.sqlite"
    cache.write_bytes(b"this is not a database" * 100)
    for leftover in cache.parent.glob("embeddings.sqlite-*"):
        leftover.unlink()
    (small_corpus / "comets.txt").write_text("Comets have icy nuclei and long tails.")
    report = build_index(small_corpus, index, embedder, progress=False)
    assert any("embedding cache was damaged" in note for note in report.notes)
    assert [p.name for p in cache.parent.glob("embeddings.sqlite.damaged-*")]
    assert Assistant.load(index, embedder=embedder).ask("comets icy tails", k=1).passages[0].path == "comets.txt"
    build_index(small_corpus, index, embedder, full=True, progress=False)
    assert build_index(small_corpus, index, embedder, full=True, progress=False).chunks_embedded == 0  # new cache


def test_a_broken_new_generation_is_skipped_and_questions_go_on(index: Path, small_corpus: Path, embedder,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    """A server picks up new generations on the fly; a damaged one must not take it down: it keeps the old one."""
    assistant = Assistant.load(index, embedder=embedder)
    old = assistant.ask("Danube", k=1).generation
    assert old == store.current_generation(index).name
    (small_corpus / "comets.txt").write_text("Comets have icy nuclei and long tails.")
    build_index(small_corpus, index, embedder, progress=False)
    new = store.current_generation(index)
    (new / "vectors.faiss").write_bytes(b"damaged")
    for _ in range(2):  # logged once, not retried on every question
        assert assistant.reload_if_changed() is False
        result = assistant.ask("comets icy tails", k=3, mode="lexical")
        assert result.generation == old and "comets.txt" not in {p.path for p in result.passages}
    assert [r.message for r in caplog.records if "cannot be used" in r.message] == [
        f"still answering from {old}: the new index cannot be used (index file {new / 'vectors.faiss'} does not "
        f"match its checksum: {FIX})"]
    (index / "CURRENT").write_text("")  # even a damaged pointer: keep answering
    assert assistant.reload_if_changed() is False and assistant.ask("Danube").generation == old
    build_index(small_corpus, index, embedder, progress=False)
    assert assistant.reload_if_changed() is True
    result = assistant.ask("comets icy tails", k=1, mode="lexical")
    assert result.passages[0].path == "comets.txt" and result.generation == store.current_generation(index).name
