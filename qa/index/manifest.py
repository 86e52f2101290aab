"""The manifest of one index generation, typed: which model built it, what it holds, every file's checksum.

``manifest.json`` is ``Manifest.to_dict()`` as JSON, and ``Manifest.from_dict`` is the one place a manifest read
back is checked: the format version first, then every part the loader relies on, each refusal an
``IndexCorruptError`` that ends with the fix. ``to_dict(from_dict(d)) == d`` for every manifest this qa writes.
A key an older qa did not write (``index``, ``search``, ``chunking``, ``variant``, ...) reads as the default it was
always read with; a key this qa does not know is kept, in ``extra``, and written back as it was.

Example::

    >>> data = {"model": {"name": "hashing-64", "fingerprint": "hashing-v1-64"},
    ...         "counts": {"documents": 1, "chunks": 2}, "built_at": "2025-01-01T00:00:00+0000", "format_version": 1,
    ...         "files": {name: {"sha256": "0" * 64, "bytes": 1} for name in REQUIRED_FILES}}
    >>> manifest = Manifest.from_dict(data)
    >>> manifest.model.name, manifest.counts.chunks, manifest.index.spec.storage  # no "index": fp32, as before
    ('hashing-64', 2, 'fp32')
    >>> Manifest.from_dict({**data, "format_version": 99})
    Traceback (most recent call last):
    ...
    qa.errors.IndexCorruptError: the index has format version 99, this qa reads 1: rebuild it with `qa index --full`
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa.embed.embedders import ModelInfo
from qa.errors import REBUILD_HINT, IndexCorruptError
from qa.index.vector_index import IndexSpec
from qa.ingest.readers import Problem
from qa.settings import FORMAT_VERSION

REQUIRED_FILES = ("vectors.faiss", "vectors.npy", "chunks.npz", "documents.jsonl")
SHARDS_FOLDER = "shards"


@dataclass(frozen=True)
class Counts:
    documents: int
    chunks: int  # one per vector and per chunk-table row
    problems: int | None = None  # files (or lines) the build skipped; not recorded by the oldest indexes

    def to_dict(self) -> dict[str, Any]:
        data = {"documents": self.documents, "chunks": self.chunks}
        return data if self.problems is None else {**data, "problems": self.problems}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Counts:
        return cls(data["documents"], data["chunks"], data.get("problems"))


@dataclass(frozen=True)
class FileChecksum:
    sha256: str
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "bytes": self.bytes}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FileChecksum:
        return cls(data["sha256"], data["bytes"])


@dataclass(frozen=True)
class IndexEntry:
    """The FAISS index the vectors are in, and the kind the build was asked for (``auto`` unless a flag said)."""

    spec: IndexSpec
    requested: str = "auto"

    def to_dict(self) -> dict[str, Any]:
        return {**self.spec.to_dict(), "requested": self.requested}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IndexEntry:
        """``IndexSpec.from_dict`` refuses an entry that is not an inner-product index, in its own words."""
        spec = IndexSpec.from_dict(data)
        return cls(spec, data.get("requested", "auto"))


@dataclass(frozen=True)
class ShardEntry:
    """One shard of a sharded generation: its folder (relative to the generation) and what it holds.

    A shard holds whole documents, a contiguous run of the generation's documents in order: row ``r`` of shard
    ``s`` is row ``first_row + r`` of the generation, so rows keep the order (and the ties) of an unsharded index.
    """

    folder: str
    documents: int
    chunks: int
    first_document: int
    first_row: int

    def to_dict(self) -> dict[str, Any]:
        return {"folder": self.folder, "documents": self.documents, "chunks": self.chunks,
                "first_document": self.first_document, "first_row": self.first_row}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ShardEntry:
        return cls(data["folder"], data["documents"], data["chunks"], data["first_document"], data["first_row"])

    def required_files(self) -> tuple[str, ...]:
        return tuple(f"{self.folder}/{name}" for name in REQUIRED_FILES)


# The keys of manifest.json this qa reads (``documents`` is held as ``document_fingerprints``); others go to ``extra``.
_KEYS = frozenset({"model", "chunking", "index", "search", "corpus", "counts", "built_at", "build_seconds",
                   "documents", "file_sha256", "problems", "format_version", "files", "shards"})


@dataclass(frozen=True, kw_only=True)
class Manifest:
    """One generation's ``manifest.json``. Frozen; the dicts inside are not copied, so treat them as read-only."""

    model: ModelInfo
    counts: Counts
    built_at: str  # local time, ISO 8601 with the UTC offset
    index: IndexEntry = field(default_factory=lambda: IndexEntry.from_dict({}))  # before "index": flat, fp32
    chunking: dict[str, Any] | None = None  # ChunkSettings.to_dict() of the build; None: compares unequal to any
    search: dict[str, Any] | None = None  # what the lexical index and calibration were written with
    corpus: str | None = None  # the corpus folder the build read, resolved
    build_seconds: float | None = None
    document_fingerprints: dict[str, str] = field(default_factory=dict)  # doc_id -> build.document_fingerprint
    file_sha256: dict[str, str] = field(default_factory=dict)  # corpus file (relative, posix) -> sha256 of its bytes
    problems: tuple[Problem, ...] = ()  # what the build skipped, so an unchanged file reports them again
    format_version: int = FORMAT_VERSION
    files: dict[str, FileChecksum] = field(default_factory=dict)  # every file of the generation but the manifest
    shards: tuple[ShardEntry, ...] = ()  # a sharded generation's shards, in row order; () for one index
    extra: dict[str, Any] = field(default_factory=dict)  # keys this qa does not know, kept as they were

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "model": self.model.to_dict(),
            "chunking": self.chunking,
            "index": self.index.to_dict(),
            "search": self.search,
            "corpus": self.corpus,
            "counts": self.counts.to_dict(),
            "built_at": self.built_at,
            "build_seconds": self.build_seconds,
            "documents": self.document_fingerprints,
            "file_sha256": self.file_sha256,
            "problems": [{"path": p.path, "reason": p.reason, "status": p.status} for p in self.problems],
            "format_version": self.format_version,
            "files": {name: meta.to_dict() for name, meta in self.files.items()},
        }
        if self.shards:  # an unsharded manifest stays exactly as before
            data["shards"] = [shard.to_dict() for shard in self.shards]
        optional = ("chunking", "search", "corpus", "build_seconds")
        return {k: v for k, v in data.items() if v is not None or k not in optional} | self.extra

    @classmethod
    def from_dict(cls, data: Any, *, path: Path | None = None) -> Manifest:
        """The manifest in ``data`` (parsed JSON), checked; ``path`` (its manifest.json) is named in a refusal."""
        if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
            version = data.get("format_version") if isinstance(data, dict) else None
            where = f" at {path.parent.parent.parent}" if path else ""
            raise IndexCorruptError(f"the index{where} has format version {version}, this qa reads {FORMAT_VERSION}: "
                                    f"{REBUILD_HINT}")
        if problem := _problem(data):
            where = f" {path}" if path else ""
            raise IndexCorruptError(f"the index manifest{where} is damaged or edited ({problem}): {REBUILD_HINT}")
        return cls(
            model=ModelInfo.from_dict(data["model"]),
            counts=Counts.from_dict(data["counts"]),
            built_at=data["built_at"],
            index=IndexEntry.from_dict(data.get("index", {})),
            chunking=data.get("chunking"),
            search=data.get("search"),
            corpus=data.get("corpus"),
            build_seconds=data.get("build_seconds"),
            document_fingerprints=data.get("documents", {}),
            file_sha256=data.get("file_sha256", {}),
            problems=tuple(Problem(p["path"], p["reason"], p.get("status", "unreadable"))
                           for p in data.get("problems", [])),
            format_version=data["format_version"],
            files={name: FileChecksum.from_dict(meta) for name, meta in data["files"].items()},
            shards=tuple(ShardEntry.from_dict(entry) for entry in data.get("shards", [])),
            extra={k: v for k, v in data.items() if k not in _KEYS},
        )


def _problem(data: dict[str, Any]) -> str | None:
    """What is missing or malformed in a manifest that claims the right format version, or None."""
    model, counts, files = data.get("model"), data.get("counts"), data.get("files")
    if not isinstance(model, dict) or not all(isinstance(model.get(k), str) for k in ("name", "fingerprint")):
        return "no model name and fingerprint"
    if not isinstance(counts, dict) or not all(type(counts.get(k)) is int for k in ("documents", "chunks")):
        return "no document and chunk counts"
    if not isinstance(data.get("built_at"), str):
        return "no build time"
    if not isinstance(files, dict):
        return "no file checksums"
    for name, meta in files.items():
        parts = Path(name).parts
        if Path(name).is_absolute() or ".." in parts or not parts:
            return f"file name {name!r} points outside the generation"
        if not isinstance(meta, dict) or not isinstance(meta.get("sha256"), str) or type(meta.get("bytes")) is not int:
            return f"no checksum for {name}"
    shards = data.get("shards", [])
    if problem := _shards_problem(shards, counts):
        return problem
    required = [name for entry in shards for name in ShardEntry.from_dict(entry).required_files()] if shards \
        else REQUIRED_FILES
    missing = sorted(set(required) - set(files))
    if missing:
        return f"no checksum for {', '.join(missing)}"
    return _build_record_problem(data)


def _shards_problem(shards: Any, counts: dict[str, Any]) -> str | None:
    """What is wrong with a sharded manifest's shard list: each shard's rows and documents follow the previous
    shard's, and together they hold the generation's counts."""
    keys = ("documents", "chunks", "first_document", "first_row")
    if not isinstance(shards, list) or not all(
            isinstance(e, dict) and isinstance(e.get("folder"), str) and all(type(e.get(k)) is int for k in keys)
            for e in shards):
        return "the shards are not a list of folders with their counts"
    documents = rows = 0
    for entry in shards:
        if entry["first_document"] != documents or entry["first_row"] != rows \
                or Path(entry["folder"]).parts[:1] != (SHARDS_FOLDER,) or ".." in Path(entry["folder"]).parts:
            return f"shard {entry['folder']} does not follow the shard before it"
        documents, rows = documents + entry["documents"], rows + entry["chunks"]
    if shards and (documents, rows) != (counts["documents"], counts["chunks"]):
        return "the shards do not add up to the document and chunk counts"
    return None


def _build_record_problem(data: dict[str, Any]) -> str | None:
    """What is malformed in the parts only a rebuild reads (they are typed here, so they are checked here)."""
    for key in ("documents", "file_sha256"):
        if not isinstance(data.get(key, {}), dict):
            return f"{key} is not a mapping"
    problems = data.get("problems", [])
    if not isinstance(problems, list) or not all(
            isinstance(p, dict) and isinstance(p.get("path"), str) and isinstance(p.get("reason"), str)
            for p in problems):
        return "the skipped files are not a list of path and reason"
    return None
