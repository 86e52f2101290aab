"""The word boxes of a generation's paged documents (PDFs), in one file beside the chunks: ``layouts.npz``.

One row per word of every PDF, the documents' rows one after another in document order; ``bounds[d]:bounds[d+1]``
are document ``d``'s rows (none for a text document). Written compressed (``np.savez_compressed``: the offsets
and boxes are smooth sequences and shrink about threefold) and checksummed with the other files of the
generation by ``store.write_generation``; read with ``allow_pickle=False``. A generation written before this file
existed has no layouts: its PDFs are shown without boxes until the next build reads them again.

>>> from qa.records import Document
>>> docs = [Document("a.txt", "a.txt", "Apples.", "Apples"), Document("b.pdf", "b.pdf", "Pears grow.", "Pears")]
>>> word = TextLayout.from_words([(0, 5, 1, 0, (0.1, 0.1, 0.2, 0.12))])
>>> loaded = from_bytes(to_bytes(docs, {"b.pdf": word}), docs)
>>> sorted(loaded), loaded["b.pdf"].boxes(0, 5)[0].page
(['b.pdf'], 1)
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from qa.ingest.layout import TextLayout
from qa.records import Document

FILE = "layouts.npz"
_COLUMNS = ("start", "end", "page", "line", "box")


def index_files(documents: list[Document], layouts: dict[str, TextLayout]) -> dict[str, bytes]:
    """``{"layouts.npz": bytes}`` for ``store.write_generation``'s extra files; nothing when no document has one."""
    if not any(d.doc_id in layouts for d in documents):
        return {}
    return {FILE: to_bytes(documents, layouts)}


def to_bytes(documents: list[Document], layouts: dict[str, TextLayout]) -> bytes:
    parts = [layouts.get(d.doc_id) for d in documents]
    sizes = [len(part) if part is not None else 0 for part in parts]
    present = [part for part in parts if part is not None]
    columns = {name: np.concatenate([getattr(part, name) for part in present]) for name in _COLUMNS}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, bounds=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64), **columns)
    return buffer.getvalue()


def from_bytes(data: bytes, documents: list[Document]) -> dict[str, TextLayout]:
    with np.load(io.BytesIO(data), allow_pickle=False) as table:
        return _split(table, documents)


def load(gen: Path, documents: list[Document]) -> dict[str, TextLayout]:
    """The layouts of a generation's documents by doc_id; empty when it has none (no PDF, or an older qa)."""
    path = Path(gen) / FILE
    if not path.is_file():
        return {}
    with np.load(path, allow_pickle=False) as table:
        return _split(table, documents)


def _split(table: np.lib.npyio.NpzFile, documents: list[Document]) -> dict[str, TextLayout]:
    bounds = table["bounds"]
    if len(bounds) != len(documents) + 1:
        raise ValueError(f"{FILE} has {len(bounds) - 1} documents, the generation {len(documents)}")
    columns = {name: table[name] for name in _COLUMNS}
    return {doc.doc_id: TextLayout(**{name: column[lo:hi] for name, column in columns.items()})
            for doc, lo, hi in zip(documents, bounds[:-1].tolist(), bounds[1:].tolist(), strict=True) if hi > lo}
