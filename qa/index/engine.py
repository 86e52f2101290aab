"""Where a build's heavy steps run: reading the files, chunking the documents, embedding the texts.

``LOCAL`` runs them in this process, as ``qa index`` always has; ``qa.cluster.RayEngine`` spreads them over a Ray
cluster. Everything else of a build (what changed, the embedding cache, the write and the atomic swap) stays in
``qa.index.build`` and is the same for both, so the two engines write the same generation.

Example, the local engine embedding two blocks::

    >>> from qa.embed.embedders import HashingEmbedder
    >>> from qa.settings import DEFAULT
    >>> [(done.block, done.vectors.shape) for done in LOCAL.embed([["a b"], ["c", "d"]], HashingEmbedder(8), DEFAULT)]
    [(0, (1, 8)), (1, (2, 8))]
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from qa.embed.embedders import Embedder
from qa.ingest.chunking import chunks_to_embed
from qa.ingest.corpus import ReadFiles, read_files
from qa.records import Chunk, Document
from qa.settings import Settings

Chunked = list[tuple[Chunk, str]]  # one document's chunks, each with the text the model reads


@dataclass(frozen=True)
class EmbeddedBlock:
    """One block of texts embedded: its position in the list given, its vectors, and the node that embedded it
    (None in this process)."""

    block: int
    vectors: np.ndarray
    node: str | None = None


class Engine(Protocol):
    read_files: ReadFiles
    block: int  # texts per embedding call handed out, and per cache commit

    def chunk(self, documents: list[Document], embedder: Embedder, settings: Settings) -> list[Chunked]:
        """Every document's chunks, in the order given."""
        ...

    def prepare(self, embedder: Embedder) -> None:
        """Load the model where it will embed, before the progress bar starts (a one-time conversion is a step of
        its own on the terminal, not time counted per chunk)."""
        ...

    def embed(self, blocks: list[list[str]], embedder: Embedder, settings: Settings) -> Iterator[EmbeddedBlock]:
        """Every block's vectors, in any order, each as soon as it is done (the build caches it then)."""
        ...


def chunk_documents(documents: Sequence[Document], embedder: Embedder, settings: Settings) -> list[Chunked]:
    return [chunks_to_embed(doc, embedder.token_spans, settings.chunk) for doc in documents]


class LocalEngine:
    """Everything in this process: the default, and all a folder on one machine needs."""

    read_files = staticmethod(read_files)
    block = 256

    def chunk(self, documents: list[Document], embedder: Embedder, settings: Settings) -> list[Chunked]:
        return chunk_documents(documents, embedder, settings)

    def prepare(self, embedder: Embedder) -> None:
        embedder.prepare()

    def embed(self, blocks: list[list[str]], embedder: Embedder, settings: Settings) -> Iterator[EmbeddedBlock]:
        for i, texts in enumerate(blocks):
            yield EmbeddedBlock(i, embedder.embed(texts, batch_size=settings.batch_size))


LOCAL = LocalEngine()


@dataclass
class NodeThroughput:
    """Chunks embedded per node and per second since the first block came back, for the progress line.

    >>> clock = iter([0.0, 10.0, 10.0]).__next__
    >>> rate = NodeThroughput(clock=clock)
    >>> rate.add("a1b2c3d4e5", 100)
    'a1b2c3: 100'
    >>> rate.add("f6e5d4c3b2", 300)
    'a1b2c3: 100 (10/s), f6e5d4: 300 (30/s)'
    """

    clock: Callable[[], float] = time.perf_counter
    started: float | None = None
    chunks: dict[str, int] = field(default_factory=dict)

    def add(self, node: str, chunks: int) -> str:
        now = self.clock()
        self.started = now if self.started is None else self.started
        self.chunks[node] = self.chunks.get(node, 0) + chunks
        seconds = now - self.started
        return ", ".join(f"{name[:6]}: {n}" + (f" ({n / seconds:,.0f}/s)" if seconds > 0 else "")
                         for name, n in sorted(self.chunks.items()))
