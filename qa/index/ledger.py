"""The ingestion ledger on disk: ``ledger.jsonl`` in each generation, one ``LedgerEntry`` per corpus file.

The build completes what the corpus reader recorded (status, reason, reader, seconds) with each file's chunk count
and the generation, and writes it with the generation's other files, so the manifest checksums it like the rest.
``read_ledger`` checks that checksum before parsing: ``qa status`` and the Documents tab never show a ledger that
is not the one the build wrote. A generation written before ledgers existed has none; reading it says how to get
one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from qa.checksums import sha256_file
from qa.errors import REBUILD_HINT, IndexCorruptError, IndexMissingError
from qa.index import store
from qa.records import UNCHANGED, Document, LedgerEntry

LEDGER_FILE = "ledger.jsonl"


@dataclass(frozen=True)
class Ledger:
    """The live generation's ledger: every corpus file the build that wrote it listed, by path."""

    generation: str
    built_at: str
    corpus: str | None
    entries: tuple[LedgerEntry, ...]

    @property
    def problems(self) -> tuple[LedgerEntry, ...]:
        return tuple(e for e in self.entries if e.problem)

    def to_dict(self) -> dict:
        return {"generation": self.generation, "built_at": self.built_at, "corpus": self.corpus,
                "files": [e.to_dict() for e in self.entries]}


def completed(entries: list[LedgerEntry], documents: list[Document], chunk_doc: np.ndarray,
              generation: str) -> list[LedgerEntry]:
    """The reader's entries with each file's chunk count (``chunk_doc``: the chunk table's document column) and
    the generation that read it: ``generation`` for every file this build read, the earlier one for an unchanged
    file. A file whose documents are all unchanged keeps the generation the ledger already names.

    >>> docs = [Document("a.md", "a.md", "x", "A"), Document("b.md", "b.md", "y", "B")]
    >>> entries = [LedgerEntry("a.md", "indexed", documents=1), LedgerEntry("b.md", "unchanged", documents=1,
    ...                                                                    generation="g-000001")]
    >>> [(e.chunks, e.generation) for e in completed(entries, docs, np.array([0, 0, 1]), "g-000002")]
    [(2, 'g-000002'), (1, 'g-000001')]
    """
    per_doc = np.bincount(np.asarray(chunk_doc, dtype=np.int64), minlength=len(documents))
    per_path: dict[str, int] = {}
    for doc, n in zip(documents, per_doc.tolist(), strict=True):
        per_path[doc.path] = per_path.get(doc.path, 0) + n
    return [replace(e, chunks=per_path.get(e.path, 0),
                    generation=e.generation if e.status == UNCHANGED and e.generation else generation)
            for e in entries]


def ledger_bytes(entries: list[LedgerEntry]) -> bytes:
    """``ledger.jsonl``: one entry a line, in path order."""
    return "".join(json.dumps(e.to_dict(), ensure_ascii=False) + "\n" for e in entries).encode()


def read_entries(gen: Path) -> dict[str, LedgerEntry]:
    """A generation's ledger by path, unchecked (the build reads the previous one it loaded and verified);
    empty when it has none."""
    path = Path(gen) / LEDGER_FILE
    if not path.is_file():
        return {}
    entries = (LedgerEntry.from_dict(json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines())
    return {e.path: e for e in entries}


def read_ledger(index_dir: Path) -> Ledger:
    """The live generation's ledger, its checksum verified; IndexMissingError when there is no index or the
    generation predates ledgers, IndexCorruptError when the file does not match the manifest."""
    gen = store.current_generation(Path(index_dir))
    if gen is None:
        raise IndexMissingError(f"no index in {index_dir}: build one with `qa index`")
    manifest = store.read_manifest(gen)
    listed = manifest.files.get(LEDGER_FILE)
    path = gen / LEDGER_FILE
    if listed is None:
        raise IndexMissingError(f"the index at {index_dir} was built before qa kept a ledger of its files: "
                                "run `qa index --full` to record one")
    if not path.is_file() or path.stat().st_size != listed.bytes or sha256_file(path) != listed.sha256:
        raise IndexCorruptError(f"index file {path} does not match its checksum: {REBUILD_HINT}")
    try:
        entries = tuple(read_entries(gen).values())
    except (ValueError, TypeError) as exc:
        raise IndexCorruptError(f"the ledger {path} cannot be read ({type(exc).__name__}): {REBUILD_HINT}") from exc
    return Ledger(gen.name, manifest.built_at, manifest.corpus, entries)
