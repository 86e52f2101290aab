"""A sharded generation: N shard folders, each a complete FAISS + BM25 index over its part of the documents.

Layout inside a generation (``qa index --shards N``)::

    manifest.json                        one manifest: every shard's files and checksums, ``shards`` in row order
    calibration/dense-moments.npz        the dense score calibration of the whole corpus, stored once
    lexical/corpus.json, ...             BM25's corpus-wide statistics, stored once (``lexical.sharded_index_files``)
    shards/000/ ... shards/N-1/          vectors.faiss, vectors.npy, chunks.npz, documents.jsonl, lexical/

A shard holds a contiguous run of the generation's documents, whole (a document's chunks stay in one shard), cut
where the chunk counts are closest to equal: row ``r`` of a shard is row ``first_row + r`` of the generation, in
the order an unsharded build gives it. Every shard's BM25 rows are cut from one index over all chunks and the
calibration is the corpus's, so a score means the same in every shard and the same as unsharded.

Example::

    >>> chunk_docs = np.array([0, 0, 0, 1, 2, 2, 3, 3])  # 4 documents, 8 chunks
    >>> document_bounds(chunk_docs, documents=4, shards=2)
    [0, 2, 4]
    >>> document_bounds(chunk_docs, documents=4, shards=5)
    Traceback (most recent call last):
    ...
    qa.errors.SettingsError: --shards 5 is more than the 4 documents: use at most 4 shards
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from qa.errors import SettingsError
from qa.index import calibration, lexical, store, vector_index
from qa.index.manifest import SHARDS_FOLDER, Manifest, ShardEntry
from qa.records import Document
from qa.settings import Settings

MAX_SHARDS = 256


def check_shards(shards: Any) -> int:
    """The number of shards asked for, checked (0: an unsharded index)."""
    if isinstance(shards, bool) or not isinstance(shards, int) or not 0 <= shards <= MAX_SHARDS:
        raise SettingsError(f"--shards {shards!r} is not a whole number from 1 to {MAX_SHARDS}: "
                            "use for example --shards 4 (or leave it out for one index)")
    return shards


def document_bounds(chunk_docs: np.ndarray, *, documents: int, shards: int) -> list[int]:
    """The first document of every shard and the end: ``shards`` contiguous runs of whole documents whose chunk
    counts are as close to equal as document boundaries allow, none empty."""
    if shards > documents:
        raise SettingsError(f"--shards {shards} is more than the {documents} documents: use at most {documents} "
                            "shards")
    ends = np.searchsorted(np.asarray(chunk_docs), np.arange(documents), side="right")  # rows up to each document
    targets = len(chunk_docs) * np.arange(1, shards) / shards
    cuts = [int(np.argmin(np.abs(ends - target))) + 1 for target in targets]
    bounds = [0]
    for s, cut in enumerate(cuts, 1):  # every shard keeps one document at least, and leaves one for each after it
        bounds.append(min(max(cut, bounds[-1] + 1), documents - (shards - s)))
    return [*bounds, documents]


def shard_spec(spec: vector_index.IndexSpec, chunks: int) -> vector_index.IndexSpec:
    """A shard's FAISS index: the generation's kind and parameters, an IVF's bucket count fitted to the shard."""
    if spec.kind != "ivf":
        return spec
    return replace(spec, nlist=vector_index.choose_spec(chunks, "ivf").nlist)


def write_sharded(index_dir: Path, manifest: Manifest, *, documents: list[Document], chunks: store.ChunkTable,
                  vectors: np.ndarray, settings: Settings, shards: int,
                  repeated: Sequence[str] | None = None, extra_files: dict[str, bytes] | None = None,
                  name: str | None = None) -> Path:
    """Write a sharded generation of ``shards`` shards and make it live, atomically as ``store.write_generation``
    does (``manifest`` is the generation's, as for an unsharded build; its ``shards`` are filled in here).

    BM25 reads the chunks' texts, or ``repeated`` texts repeated over the rows (``lexical.repeated_index_files``:
    a synthetic index). ``extra_files`` (the ledger, the PDFs' word boxes: files about the whole corpus) are
    written once, at the top of the generation; ``name`` as for ``store.write_generation``."""
    doc_bounds = document_bounds(chunks.doc, documents=len(documents), shards=shards)
    row_bounds = [int(b) for b in np.searchsorted(chunks.doc, doc_bounds, side="left")]
    if repeated is None:
        corpus_stats, lexical_shards = lexical.sharded_index_files(
            lexical.lexical_texts(documents, chunks), row_bounds, settings.lexical)
    else:
        corpus_stats, lexical_shards = lexical.sharded_index_files(repeated, row_bounds, settings.lexical,
                                                                   rows=len(chunks))
    entries = tuple(
        ShardEntry(f"{SHARDS_FOLDER}/{s:03d}", doc_bounds[s + 1] - doc_bounds[s], row_bounds[s + 1] - row_bounds[s],
                   doc_bounds[s], row_bounds[s])
        for s in range(shards))

    def fill(folder: Path) -> None:
        for file, data in (corpus_stats | calibration.index_files(vectors) | (extra_files or {})).items():
            (folder / file).parent.mkdir(parents=True, exist_ok=True)
            (folder / file).write_bytes(data)
        for entry, lexical_files in zip(entries, lexical_shards, strict=True):
            rows = slice(entry.first_row, entry.first_row + entry.chunks)
            part = store.ChunkTable(chunks.doc[rows] - entry.first_document, chunks.start[rows], chunks.end[rows])
            shard_vectors = vectors[rows]
            faiss_index = vector_index.build(shard_vectors, shard_spec(manifest.index.spec, entry.chunks))
            store.write_index_folder(folder / entry.folder, documents[entry.first_document:][:entry.documents], part,
                                     shard_vectors, faiss_index, lexical_files)

    return store.publish(index_dir, replace(manifest, shards=entries), fill, name=name)


def write_from_arrays(index_dir: Path, like: store.IndexData, *, documents: list[Document],
                      chunks: store.ChunkTable, vectors: np.ndarray, spec: vector_index.IndexSpec, requested: str,
                      shards: int, repeated: Sequence[str], settings: Settings) -> Path:
    """``store.write_from_arrays``, sharded: a synthetic generation of ``shards`` shards whose BM25 reads
    ``repeated`` repeated over the rows (the scale benchmarks' million-chunk indexes)."""
    manifest = store.array_manifest(like, documents=documents, chunks=chunks, spec=spec, requested=requested)
    return write_sharded(index_dir, manifest, documents=documents, chunks=chunks, vectors=vectors,
                         settings=settings, shards=shards, repeated=repeated)


def load_sharded(gen: Path, manifest: Manifest, *, with_vectors: bool = False,
                 with_index: bool = True) -> store.IndexData:
    """A sharded generation as one ``IndexData`` over all its rows, each shard's index in its ``shards``."""
    parts = tuple(load_shard(gen, manifest, entry, with_vectors=with_vectors, with_index=with_index)
                  for entry in manifest.shards)
    documents = [doc for part in parts for doc in part.documents]
    chunks = store.ChunkTable(
        np.concatenate([part.chunks.doc + entry.first_document for part, entry in zip(parts, manifest.shards,
                                                                                      strict=True)]),
        np.concatenate([part.chunks.start for part in parts]), np.concatenate([part.chunks.end for part in parts]))
    vectors = np.concatenate([part.vectors for part in parts]) if with_vectors else None
    return store.IndexData(gen, manifest, documents, chunks, None, vectors, shards=parts)


def load_shard(gen: Path, manifest: Manifest, entry: ShardEntry, *, with_vectors: bool = False,
               with_index: bool = True) -> store.IndexData:
    """One shard of a generation whose files have been verified: its documents, chunk rows and FAISS index."""
    return store.read_index_folder(gen / entry.folder, manifest, counts=entry.chunks, with_vectors=with_vectors,
                                   spec=shard_spec(manifest.index.spec, entry.chunks), with_index=with_index)
