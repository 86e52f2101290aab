"""The index on disk: generations written beside the current one and swapped in atomically.

Layout of an index folder::

    index/CURRENT                      name of the live generation (replaced with os.replace: atomic)
    index/generations/g-<n>-<time>/    manifest.json, vectors.faiss, vectors.npy, chunks.npz, documents.jsonl,
                                       layouts.npz (PDF word boxes), lexical/, calibration/, ledger.jsonl
    index/cache/embeddings.sqlite      embedding cache shared by all generations
    index/build.lock                   held while a build runs

A generation is complete before CURRENT names it, so killing a build at any moment leaves the previous index
loadable. Every file's sha256 is in the manifest, and loading refuses anything that does not match. No pickle:
JSON, numpy arrays loaded with ``allow_pickle=False`` and FAISS's own format.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from qa.checksums import sha256_file
from qa.errors import REBUILD_HINT, IndexCorruptError, IndexMissingError
from qa.index import layouts, vector_index
from qa.index.manifest import SHARDS_FOLDER, Counts, FileChecksum, IndexEntry, Manifest
from qa.ingest.layout import TextLayout
from qa.records import Chunk, Document
from qa.settings import FORMAT_VERSION

CURRENT = "CURRENT"
GENERATIONS = "generations"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class ChunkTable:
    """Chunks as columns (one row per vector): the text lives once, in the documents."""

    doc: np.ndarray  # int32 row into documents
    start: np.ndarray  # int64 character offsets into the document text
    end: np.ndarray

    def __len__(self) -> int:
        return len(self.doc)


@dataclass
class IndexData:
    """Everything one generation holds, in memory."""

    path: Path
    manifest: Manifest
    documents: list[Document]
    chunks: ChunkTable
    faiss_index: Any  # None for a sharded generation: each of its ``shards`` has its own
    vectors: np.ndarray | None = None  # memory-mapped, only when a build asks for it
    shards: tuple[IndexData, ...] = ()  # a sharded generation's shards (qa.index.shards), in row order
    layouts: dict[str, TextLayout] = field(default_factory=dict)  # doc_id -> its words' boxes (PDFs)

    def chunk(self, row: int) -> Chunk:
        doc = self.documents[int(self.chunks.doc[row])]
        start, end = int(self.chunks.start[row]), int(self.chunks.end[row])
        first = int(np.searchsorted(self.chunks.doc, self.chunks.doc[row], side="left"))
        return Chunk(
            chunk_id=f"{doc.doc_id}::{row - first}",
            doc_id=doc.doc_id,
            index=row - first,
            start=start,
            end=end,
            text=doc.text[start:end],
            page=doc.page_at(start),
            section=doc.section_at(start),
        )

    @property
    def generation(self) -> str:
        """The generation's name (a shard's data is named after the generation it belongs to)."""
        return self.path.parent.parent.name if self.path.parent.name == SHARDS_FOLDER else self.path.name

    @cached_property
    def _rows_by_id(self) -> dict[str, int]:
        return {doc.doc_id: row for row, doc in enumerate(self.documents)}

    def document(self, doc_id: str) -> Document | None:
        """The document whose ``doc_id`` (as passages name it) is ``doc_id``; None when it is not in this generation."""
        row = self._rows_by_id.get(doc_id)
        return None if row is None else self.documents[row]


def generation_dir(index_dir: Path, name: str) -> Path:
    """The folder of generation ``name`` (as ``BuildReport.generation`` and ``Result.generation`` name it)."""
    return Path(index_dir) / GENERATIONS / name


def current_generation(index_dir: Path) -> Path | None:
    """The live generation's folder, or None when there is no index yet."""
    try:
        name = (index_dir / CURRENT).read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise IndexCorruptError(f"cannot read {index_dir / CURRENT} ({exc}): {REBUILD_HINT}") from exc
    if not name or "/" in name or name.startswith("."):
        raise IndexCorruptError(f"{index_dir / CURRENT} does not name a generation: {REBUILD_HINT}")
    return generation_dir(index_dir, name)


def read_manifest(gen: Path) -> Manifest:
    """The generation's manifest, checked (``Manifest.from_dict``)."""
    path = gen / "manifest.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise IndexCorruptError(f"index generation {gen} has no manifest.json: {REBUILD_HINT}") from exc
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(f"the index manifest {path} is not valid JSON: {REBUILD_HINT}") from exc
    return Manifest.from_dict(data, path=path)


def verify_files(gen: Path, manifest: Manifest, *, under: str | None = None) -> None:
    """Refuse a generation with a file that does not match its checksum, or one the manifest does not list
    (only those in the folder ``under``, relative to the generation, when given: one shard's).

    Runs before any parser opens a file: a tampered or truncated file is rejected by its bytes alone.
    """
    listed = manifest.files
    if under is not None:
        listed = {name: meta for name, meta in listed.items() if name.startswith(f"{under}/")}
    for path in sorted(p for p in (gen / under if under else gen).rglob("*") if not p.is_dir()):
        name = path.relative_to(gen).as_posix()
        if name != "manifest.json" and name not in listed:
            raise IndexCorruptError(f"index file {path} is not listed in the manifest: {REBUILD_HINT}")
    for name, meta in listed.items():
        path = gen / name
        if not path.is_file() or path.stat().st_size != meta.bytes or sha256_file(path) != meta.sha256:
            raise IndexCorruptError(f"index file {path} does not match its checksum: {REBUILD_HINT}")


def load(index_dir: Path, *, with_vectors: bool = False, verify: bool = True,
         shard_indexes: bool = True) -> IndexData:
    """Load and check the live generation; raise IndexMissingError / IndexCorruptError with the fix.

    A sharded generation (``qa index --shards N``) loads as one ``IndexData`` over all its rows (documents and
    chunk table in generation order, no FAISS index of its own) whose ``shards`` hold each shard's index (not
    read when ``shard_indexes`` is False: the cluster's actors hold them).
    """
    index_dir = Path(index_dir)
    gen = current_generation(index_dir)
    if gen is None:
        raise IndexMissingError(f"no index in {index_dir}: build one with `qa index`")
    if not gen.is_dir():
        raise IndexCorruptError(f"the live index generation {gen} is missing: {REBUILD_HINT}")
    manifest = read_manifest(gen)
    if verify:
        verify_files(gen, manifest)
    if manifest.shards:
        from qa.index import shards

        data = shards.load_sharded(gen, manifest, with_vectors=with_vectors, with_index=shard_indexes)
    else:
        data = read_index_folder(gen, manifest, counts=manifest.counts.chunks, with_vectors=with_vectors)
    try:  # the PDFs' word boxes are about the whole corpus: once per generation, sharded or not
        return replace(data, layouts=layouts.load(gen, data.documents))
    except Exception as exc:
        raise IndexCorruptError(f"the word boxes at {gen} cannot be read ({type(exc).__name__}): {REBUILD_HINT}") \
            from exc


def read_index_folder(folder: Path, manifest: Manifest, *, counts: int, with_vectors: bool = False,
                      spec: vector_index.IndexSpec | None = None, with_index: bool = True) -> IndexData:
    """The index files in ``folder`` (a generation, or one shard of one), checked against each other and against
    ``counts`` chunks; the FAISS index left unread unless ``with_index``. Unverified: the caller has checked the
    files' checksums."""
    import faiss

    try:
        documents = read_documents(folder)
        with np.load(folder / "chunks.npz", allow_pickle=False) as table:
            chunks = ChunkTable(table["doc"], table["start"], table["end"])
        faiss_index = faiss.read_index(str(folder / "vectors.faiss")) if with_index else None
        vectors = np.load(folder / "vectors.npy", mmap_mode="r", allow_pickle=False) if with_vectors else None
    except Exception as exc:  # a damaged file in any of three formats: one message and the fix
        raise IndexCorruptError(f"the index at {folder} cannot be read ({type(exc).__name__}): {REBUILD_HINT}") \
            from exc
    if (with_index and faiss_index.ntotal != len(chunks)) or counts != len(chunks):
        raise IndexCorruptError(f"the index at {folder} has mismatched vector and chunk counts: {REBUILD_HINT}")
    if not _chunks_fit(chunks, documents):
        raise IndexCorruptError(f"the chunk table at {folder} points outside its documents: {REBUILD_HINT}")
    if with_index:
        vector_index.configure(faiss_index, spec or manifest.index.spec)
    return IndexData(folder, manifest, documents, chunks, faiss_index, vectors)


def read_documents(gen: Path) -> list[Document]:
    """A generation's documents.jsonl -> Documents, each repeated path, publisher and date held once (a .jsonl
    collection's documents share one path; a site's articles, one publisher). Unchecked: ``load`` verifies first."""
    shared: dict[str, str] = {}
    documents = []
    with (Path(gen) / "documents.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            data = json.loads(line)
            for key in ("path", "publisher", "date"):
                if isinstance(data.get(key), str):
                    data[key] = shared.setdefault(data[key], data[key])
            documents.append(Document.from_dict(data))
    return documents


def _chunks_fit(chunks: ChunkTable, documents: list[Document]) -> bool:
    """Every chunk row names a document in order and lies inside its text (what ``IndexData.chunk`` assumes)."""
    if not len(chunks):
        return True
    lengths = np.array([len(d.text) for d in documents], dtype=np.int64)
    doc = chunks.doc
    if doc.min() < 0 or doc.max() >= len(documents) or np.any(np.diff(doc) < 0):
        return False
    return bool(np.all(chunks.start >= 0) and np.all(chunks.start <= chunks.end) and np.all(chunks.end <= lengths[doc]))


def write_generation(
    index_dir: Path,
    *,
    manifest: Manifest,
    documents: list[Document],
    chunks: ChunkTable,
    vectors: np.ndarray,
    faiss_index: Any,
    extra_files: dict[str, bytes] | None = None,
    name: str | None = None,
) -> Path:
    """Write a complete generation under a temporary name, fsync it, then make it live atomically.

    ``manifest`` is written with this qa's format version and the checksum of every file written (its ``files``).
    ``name`` is the generation's name when the caller needed it first (``new_generation_name``, under the build
    lock), else a new one.
    """
    files = extra_files or {}
    return publish(index_dir, manifest,
                   lambda folder: write_index_folder(folder, documents, chunks, vectors, faiss_index, files), name=name)


def publish(index_dir: Path, manifest: Manifest, fill: Callable[[Path], None], name: str | None = None) -> Path:
    """Make a generation: ``fill`` writes its files into a temporary folder, the manifest records their checksums,
    everything is fsynced, the folder gets its final name (``name``, else a new one), and CURRENT names it
    (atomically)."""
    root = index_dir / GENERATIONS
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{os.getpid()}-{time.time_ns()}"
    tmp.mkdir()
    try:
        fill(tmp)
        _write_manifest_and_sync(tmp, manifest)
        final = root / (name or new_generation_name(index_dir))
        os.rename(tmp, final)
        _fsync_dir(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _make_current(index_dir, final)
    return final


def write_index_folder(folder: Path, documents: list[Document], chunks: ChunkTable, vectors: np.ndarray,
                       faiss_index: Any, extra_files: dict[str, bytes]) -> None:
    """The index files of a generation (or of one shard of one) into ``folder``; no manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    _write_faiss(faiss_index, folder / "vectors.faiss")
    np.save(folder / "vectors.npy", np.ascontiguousarray(vectors, dtype=np.float32), allow_pickle=False)
    np.savez(folder / "chunks.npz", doc=chunks.doc, start=chunks.start, end=chunks.end)
    with (folder / "documents.jsonl").open("w") as handle:
        for doc in documents:
            handle.write(json.dumps(doc.to_dict(), ensure_ascii=False) + "\n")
    for name, data in extra_files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)


def _write_manifest_and_sync(folder: Path, manifest: Manifest) -> None:
    """The manifest with every file's checksum, then every file and the folder itself fsynced."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    checksums = {p.relative_to(folder).as_posix(): FileChecksum(sha256_file(p), p.stat().st_size) for p in files}
    manifest = replace(manifest, format_version=FORMAT_VERSION, files=checksums)
    (folder / "manifest.json").write_text(json.dumps(manifest.to_dict(), indent=2, ensure_ascii=False))
    for path in [*files, folder / "manifest.json"]:
        with path.open("rb") as handle:
            os.fsync(handle.fileno())
    for sub in sorted((p for p in folder.rglob("*") if p.is_dir()), reverse=True):
        _fsync_dir(sub)
    _fsync_dir(folder)


def _make_current(index_dir: Path, generation: Path) -> None:
    """Point CURRENT at ``generation`` atomically: a reader sees the old name or the new one, never a torn file."""
    pointer = index_dir / f".{CURRENT}.tmp"
    pointer.write_text(generation.name + "\n")
    with pointer.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(pointer, index_dir / CURRENT)
    _fsync_dir(index_dir)


def write_from_arrays(
    index_dir: Path,
    like: IndexData,
    *,
    documents: list[Document],
    chunks: ChunkTable,
    vectors: np.ndarray,
    faiss_index: Any,
    spec: vector_index.IndexSpec,
    requested: str,
    extra_files: dict[str, bytes],
) -> Path:
    """Write a generation made from arrays rather than read from a corpus, under ``like``'s model and settings.

    The manifest is ``array_manifest``'s. ``extra_files`` are the search files of the new rows
    (``lexical.index_files``, ``calibration.index_files``). The scale benchmark writes its synthetic indexes of a
    million chunks this way (``shards.write_from_arrays`` writes them sharded).
    """
    if not len(chunks) == len(vectors) == faiss_index.ntotal:
        raise ValueError(f"{len(chunks)} chunk rows, {len(vectors)} vectors and {faiss_index.ntotal} indexed "
                         "vectors: give one vector per chunk row")
    manifest = array_manifest(like, documents=documents, chunks=chunks, spec=spec, requested=requested)
    return write_generation(index_dir, manifest=manifest, documents=documents, chunks=chunks, vectors=vectors,
                            faiss_index=faiss_index, extra_files=extra_files)


def array_manifest(like: IndexData, *, documents: list[Document], chunks: ChunkTable, spec: vector_index.IndexSpec,
                   requested: str) -> Manifest:
    """The manifest of a generation made from arrays: ``like``'s with the new index description, counts and
    documents; it records no corpus file and fingerprints every document as ``"synthetic"``, so a later build over
    a corpus reuses none of it."""
    return replace(like.manifest, index=IndexEntry(spec, requested),
                   counts=Counts(documents=len(documents), chunks=len(chunks), problems=0),
                   document_fingerprints={d.doc_id: "synthetic" for d in documents}, file_sha256={}, shards=())


def _write_faiss(faiss_index: Any, path: Path) -> None:
    """``faiss.write_index`` through a Python file, byte for byte the same output.

    subtle: FAISS's own file writer reports a full disk as a RuntimeError and prints a second complaint on stderr;
    through a Python callback the failure is the plain OSError that the build turns into one line.
    """
    import faiss

    with path.open("wb") as handle:
        writer = faiss.PyCallbackIOWriter(handle.write)
        try:
            faiss.write_index(faiss_index, writer)
        finally:
            del writer


def new_generation_name(index_dir: Path) -> str:
    """The name the next generation written in ``index_dir`` gets: ``g-<n>-<time>``, n one above the highest."""
    return f"g-{_next_number(Path(index_dir) / GENERATIONS):06d}-{time.strftime('%Y%m%dT%H%M%S')}"


def _next_number(root: Path) -> int:
    numbers = [int(p.name.split("-")[1]) for p in root.glob("g-*") if p.name.split("-")[1].isdigit()
               ] if root.is_dir() else []
    return max(numbers, default=0) + 1


def prune(index_dir: Path, keep: int = 2) -> None:
    """Remove unfinished temporary folders and all but the ``keep`` newest generations (never the live one).

    Only called while holding the build lock. The previous generation is kept so that a process that loaded it
    a moment ago can still open its files.
    """
    root = index_dir / GENERATIONS
    if not root.is_dir():
        return
    try:
        live = current_generation(index_dir)
    except IndexCorruptError:  # a damaged pointer must not stop the rebuild that repairs it
        live = None
    for tmp in root.glob(".tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)
    generations = sorted(root.glob("g-*"), key=lambda p: p.name, reverse=True)
    for old in generations[keep:]:
        if live is None or old.name != live.name:
            shutil.rmtree(old, ignore_errors=True)
