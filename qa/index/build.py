"""Incremental rebuild: read the corpus, find what changed, embed only what was never embedded, swap atomically.

Reuse happens at three levels, cheapest first:
1. a file whose bytes are unchanged is not parsed again (its documents come from the previous generation);
2. a document whose fingerprint is unchanged keeps its chunks and vectors from the previous generation;
3. any other chunk looks its text up in the embedding cache, keyed by model and the exact text the model reads.
Only what misses all three is embedded, in batches committed to the cache as they finish, so a killed build
loses at most one batch of work.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock, Timeout

from qa.embed.cache import EmbeddingCache, text_key
from qa.embed.embedders import Embedder, ModelInfo
from qa.errors import IndexBusyError, IndexCorruptError, IndexMissingError
from qa.index import calibration, layouts, ledger, lexical, store, vector_index
from qa.index.engine import LOCAL, Engine, NodeThroughput
from qa.index.manifest import Counts, IndexEntry, Manifest
from qa.index.shards import check_shards, write_sharded
from qa.index.write_errors import index_writes
from qa.ingest import readers
from qa.ingest.corpus import Corpus, Previous, read_corpus
from qa.records import LedgerEntry
from qa.settings import DEFAULT, Settings


@dataclass(frozen=True)
class BuildReport:
    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: int
    problems: tuple[readers.Problem, ...]
    documents: int
    chunks: int
    chunks_embedded: int
    chunks_reused: int
    seconds: float
    generation: str
    notes: tuple[str, ...] = field(default=())
    ledger: tuple[LedgerEntry, ...] = ()  # every corpus file, by path: what this build did with it

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k not in ("problems", "ledger")}
        data["problems"] = [{"path": p.path, "reason": p.reason, "status": p.status} for p in self.problems]
        data["files"] = [e.to_dict() for e in self.ledger]
        return data


def _previous(
    index_dir: Path, embedder: Embedder, settings: Settings, full: bool
) -> tuple[store.IndexData | None, str | None]:
    """The previous generation if it can be reused, with a note when it cannot."""
    if full:
        return None, None
    try:
        prev = store.load(index_dir, with_vectors=True)
    except IndexMissingError:
        return None, None
    except IndexCorruptError as exc:
        return None, f"previous index not reused ({exc}); building from scratch"
    if (prev.manifest.model.fingerprint != embedder.fingerprint
            or prev.manifest.chunking != settings.chunk.to_dict()):
        return None, "previous index used another model or chunk settings; building from scratch"
    return prev, None


def _previous_read(prev: store.IndexData | None) -> Previous | None:
    """What the previous generation read, so that files with the same bytes are not parsed again."""
    if prev is None:
        return None
    return Previous(prev.documents, prev.manifest.file_sha256, prev.manifest.problems, prev.layouts,
                    ledger=ledger.read_entries(prev.path), generation=prev.generation)


def build_index(
    corpus: Path,
    index_dir: Path,
    embedder: Embedder,
    *,
    settings: Settings = DEFAULT,
    full: bool = False,
    progress: bool = True,
    lock_timeout: float = 0,
    index_kind: str | None = None,
    engine: Engine = LOCAL,
    shards: int | None = None,
) -> BuildReport:
    """Bring the index in ``index_dir`` up to date with ``corpus`` (a folder or one file).

    ``index_kind`` is ``flat``, ``hnsw``, ``ivf`` or ``auto`` (exact below
    ``qa.index.vector_index.ANN_THRESHOLD`` vectors); None keeps what the previous build was asked for.
    ``engine`` reads, chunks and embeds: in this process (``qa.index.engine.LOCAL``) or spread over a Ray cluster
    (``qa.cluster.RayEngine``); either way the result is written here, by the same step.
    ``shards`` N writes a sharded generation of N shards (``qa.index.shards``), 0 one index; None keeps what the
    previous build wrote.
    """
    settings.chunk.check_fits(embedder.max_tokens)
    if shards is not None:
        check_shards(shards)
    index_dir = Path(index_dir)
    with index_writes(index_dir):
        index_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(index_dir / "build.lock"))
        try:
            lock.acquire(timeout=lock_timeout)
        except Timeout as exc:
            raise IndexBusyError(
                f"another `qa index` is rebuilding {index_dir}: wait for it to finish, then run this again"
            ) from exc
        try:
            return _build_locked(Path(corpus), index_dir, embedder, settings, full, progress, index_kind, engine,
                                 shards)
        finally:
            lock.release()


@dataclass(frozen=True)
class _Changes:
    """The documents against the previous generation's, by id."""

    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: int


def _what_changed(current: dict[str, str], prev: store.IndexData | None) -> _Changes:
    before = prev.manifest.document_fingerprints if prev else {}
    added = tuple(sorted(set(current) - set(before)))
    changed = tuple(sorted(k for k in current if k in before and before[k] != current[k]))
    removed = tuple(sorted(set(before) - set(current)))
    return _Changes(added, changed, removed, unchanged=len(current) - len(added) - len(changed))


def _search_entry(settings: Settings) -> dict[str, Any]:
    """What the manifest records of the search files, so a build knows when to rewrite them."""
    return {"lexical": lexical.manifest_entry(settings.lexical), "calibration": calibration.FORMAT}


def _nothing_to_write(prev: store.IndexData, corpus: Corpus, settings: Settings, requested: str,
                      shards: int) -> bool:
    """Whether the live generation is already what this build would write: same documents and files, same search
    settings, same kind of vector index, the same PDFs with word boxes, same shards."""
    manifest = prev.manifest
    return (corpus.by_id == manifest.document_fingerprints and manifest.file_sha256 == corpus.file_sha
            and corpus.layouts.keys() == prev.layouts.keys()
            and manifest.problems == tuple(corpus.problems)  # a file refused anew is a new ledger entry
            and manifest.search == _search_entry(settings) and len(manifest.shards) == shards
            and manifest.index.spec == vector_index.choose_spec(len(prev.chunks), requested))


@dataclass(frozen=True)
class _Reused:
    """A document's rows in the previous generation (its fingerprint is unchanged): vectors copied from there."""

    rows: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(frozen=True)
class _ToEmbed:
    """A new or changed document's chunks, by text key: vectors from the embedding cache, else from the model."""

    keys: tuple[bytes, ...]

    def __len__(self) -> int:
        return len(self.keys)


@dataclass
class _Plan:
    """Where each document's rows come from: the previous generation, or texts to look up or embed."""

    segments: list[_Reused | _ToEmbed] = field(default_factory=list)  # one per document, in order
    columns: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)  # doc, start, end
    pending: dict[bytes, str] = field(default_factory=dict)  # text key -> text the model reads
    reused: int = 0


def _previous_rows(prev: store.IndexData) -> dict[str, tuple[str, np.ndarray]]:
    """doc_id -> (fingerprint, its rows) in the previous generation."""
    prints = prev.manifest.document_fingerprints
    bounds = np.searchsorted(prev.chunks.doc, np.arange(len(prev.documents) + 1))
    return {
        doc.doc_id: (prints.get(doc.doc_id, ""), np.arange(bounds[i], bounds[i + 1]))
        for i, doc in enumerate(prev.documents)
    }


def _plan(corpus: Corpus, prev: store.IndexData | None, embedder: Embedder, settings: Settings,
          engine: Engine) -> _Plan:
    """What to embed: every document's rows reused from the previous generation where its fingerprint is
    unchanged, else chunked afresh (by ``engine``) with the texts the model reads."""
    plan = _Plan()
    prev_rows = _previous_rows(prev) if prev is not None else {}
    reusable = [prev is not None and prev_rows.get(doc.doc_id, ("",))[0] == fp
                for doc, fp in zip(corpus.documents, corpus.fingerprints, strict=True)]
    fresh = [doc for doc, reuse in zip(corpus.documents, reusable, strict=True) if not reuse]
    chunked = iter(engine.chunk(fresh, embedder, settings))
    for d, doc in enumerate(corpus.documents):
        if reusable[d] and prev is not None:
            rows = prev_rows[doc.doc_id][1]
            plan.segments.append(_Reused(rows))
            plan.columns.append((np.full(len(rows), d, np.int32), prev.chunks.start[rows], prev.chunks.end[rows]))
            plan.reused += len(rows)
            continue
        chunks = next(chunked)
        keys = []
        for _, text in chunks:
            keys.append(text_key(text))
            plan.pending.setdefault(keys[-1], text)
        plan.segments.append(_ToEmbed(tuple(keys)))
        plan.columns.append((
            np.full(len(chunks), d, np.int32),
            np.array([c.start for c, _ in chunks], np.int64),
            np.array([c.end for c, _ in chunks], np.int64),
        ))
    return plan


def _assemble(plan: _Plan, prev: store.IndexData | None, vectors_by_key: dict[bytes, np.ndarray],
              dim: int) -> tuple[np.ndarray, store.ChunkTable]:
    vectors = np.zeros((sum(len(segment) for segment in plan.segments), dim), dtype=np.float32)
    row = 0
    for segment in plan.segments:
        n = len(segment)
        if isinstance(segment, _Reused) and prev is not None:
            vectors[row:row + n] = prev.vectors[segment.rows]
        elif isinstance(segment, _ToEmbed) and n:
            vectors[row:row + n] = np.stack([vectors_by_key[k] for k in segment.keys])
        row += n
    chunks = store.ChunkTable(*(np.concatenate(column) for column in zip(*plan.columns, strict=True)))
    return vectors, chunks


def _manifest(corpus_dir: Path, corpus: Corpus, embedder: Embedder, settings: Settings, spec: vector_index.IndexSpec,
              requested: str, chunks: int, started: float) -> Manifest:
    return Manifest(
        model=ModelInfo.of(embedder),
        chunking=settings.chunk.to_dict(),
        index=IndexEntry(spec, requested),
        search=_search_entry(settings),
        corpus=str(corpus_dir.resolve()),
        counts=Counts(documents=len(corpus.documents), chunks=chunks, problems=len(corpus.problems)),
        built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        build_seconds=round(time.perf_counter() - started, 3),
        document_fingerprints=corpus.by_id,
        file_sha256=corpus.file_sha,
        problems=tuple(corpus.problems),
    )


def _write(index_dir: Path, manifest: Manifest, corpus: Corpus, chunks: store.ChunkTable, vectors: np.ndarray,
           settings: Settings, entries: list[LedgerEntry], name: str, shards: int) -> Path:
    """Write the generation ``name``: vectors, their FAISS index, chunks, documents, BM25, the calibration, the
    PDFs' word boxes and the ledger; in ``shards`` shards unless 0."""
    documents = corpus.documents
    whole_corpus_files = (layouts.index_files(documents, corpus.layouts)
                          | {ledger.LEDGER_FILE: ledger.ledger_bytes(entries)})
    if shards:
        return write_sharded(index_dir, manifest, documents=documents, chunks=chunks, vectors=vectors,
                             settings=settings, shards=shards, extra_files=whole_corpus_files, name=name)
    faiss_index = vector_index.build(vectors, manifest.index.spec)
    # BM25 and the score calibration are rebuilt with every generation (about a second for SciFact): always in step.
    extra_files = (lexical.index_files(lexical.lexical_texts(documents, chunks), settings.lexical)
                   | calibration.index_files(vectors) | whole_corpus_files)
    return store.write_generation(index_dir, manifest=manifest, documents=documents, chunks=chunks,
                                  vectors=vectors, faiss_index=faiss_index, extra_files=extra_files, name=name)


def _build_locked(corpus_dir: Path, index_dir: Path, embedder: Embedder, settings: Settings, full: bool,
                  progress: bool, index_kind: str | None, engine: Engine, shards: int | None) -> BuildReport:
    started = time.perf_counter()
    store.prune(index_dir)
    prev, note = _previous(index_dir, embedder, settings, full)
    corpus = read_corpus(corpus_dir, _previous_read(prev), settings, engine.read_files)
    requested = index_kind or (prev.manifest.index.requested if prev else "auto")
    shards = (len(prev.manifest.shards) if prev else 0) if shards is None else shards
    if prev is not None and _nothing_to_write(prev, corpus, settings, requested, shards):
        # Nothing changed: keep the live generation rather than writing an identical one.
        return BuildReport(
            added=(), changed=(), removed=(), unchanged=len(corpus.by_id), problems=tuple(corpus.problems),
            documents=len(corpus.documents), chunks=len(prev.chunks), chunks_embedded=0,
            chunks_reused=len(prev.chunks), seconds=round(time.perf_counter() - started, 3),
            generation=prev.generation, notes=(note,) if note else (),
            ledger=tuple(ledger.completed(corpus.ledger, prev.documents, prev.chunks.doc, prev.generation)),
        )

    # A second thread makes the model ready (OpenVINO's compile, a first use's export) while the corpus is chunked.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="qa-prepare") as second:
        preparing = second.submit(engine.prepare, embedder) if _may_embed(corpus, prev) else None
        plan = _plan(corpus, prev, embedder, settings, engine)
        cache = EmbeddingCache(index_dir / "cache" / "embeddings.sqlite", embedder.fingerprint, embedder.dim)
        try:
            vectors_by_key, embedded, cache_hits = _embed_pending(plan.pending, cache, embedder, settings, progress,
                                                                  engine, preparing)
        finally:
            cache.close()
    vectors, chunks = _assemble(plan, prev, vectors_by_key, embedder.dim)

    spec = vector_index.choose_spec(len(vectors), requested)
    manifest = _manifest(corpus_dir, corpus, embedder, settings, spec, requested, len(vectors), started)
    name = store.new_generation_name(index_dir)
    entries = ledger.completed(corpus.ledger, corpus.documents, chunks.doc, name)
    gen = _write(index_dir, manifest, corpus, chunks, vectors, settings, entries, name, shards)
    changes = _what_changed(corpus.by_id, prev)
    return BuildReport(
        added=changes.added, changed=changes.changed, removed=changes.removed, unchanged=changes.unchanged,
        problems=tuple(corpus.problems), documents=len(corpus.documents), chunks=len(vectors),
        chunks_embedded=embedded, chunks_reused=plan.reused + cache_hits,
        seconds=round(time.perf_counter() - started, 3), generation=gen.name,
        notes=tuple(n for n in (note, cache.note) if n), ledger=tuple(entries),
    )


def _may_embed(corpus: Corpus, prev: store.IndexData | None) -> bool:
    """Whether any document is new or changed, so that the model may be needed (its texts may all be cached)."""
    before = prev.manifest.document_fingerprints if prev is not None else {}
    return any(before.get(doc_id) != fingerprint for doc_id, fingerprint in corpus.by_id.items())


def _embed_pending(pending: dict[bytes, str], cache: EmbeddingCache, embedder: Embedder, settings: Settings,
                   progress: bool, engine: Engine, preparing: Future | None = None
                   ) -> tuple[dict[bytes, np.ndarray], int, int]:
    """Vectors for every pending text: from the cache where present, else embedded by ``engine`` and cached block
    by block as each block comes back. ``preparing`` is the model's preparation already under way in another thread
    (its error is raised here)."""
    keys = list(pending)
    found = cache.get_many(keys)
    missing = [k for k in keys if k not in found]
    # Sorting by length keeps similar lengths in a batch: less padding, faster embedding.
    missing.sort(key=lambda k: len(pending[k]))
    blocks = [missing[i:i + engine.block] for i in range(0, len(missing), engine.block)]
    from tqdm import tqdm

    if missing:  # a one-time model conversion is its own step on the terminal, not time counted per chunk
        if preparing is not None:
            preparing.result()
        engine.prepare(embedder)
    throughput = NodeThroughput()
    with tqdm(total=len(missing), desc="embedding", unit="chunk", disable=not progress or not missing) as bar:
        texts = [[pending[k] for k in block] for block in blocks]
        for done in engine.embed(texts, embedder, settings):
            block = blocks[done.block]
            cache.put_many(zip(block, done.vectors, strict=True))
            found.update(zip(block, done.vectors, strict=True))
            bar.update(len(block))
            if done.node is not None:  # per-node throughput where more than this process embeds
                bar.set_postfix_str(throughput.add(done.node, len(block)), refresh=False)
    return found, len(missing), len(keys) - len(missing)
