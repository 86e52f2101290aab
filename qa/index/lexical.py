"""BM25 over chunks (document title + chunk text), written into each index generation and loaded with it.

Why bm25s: a well-kept, pure numpy BM25 (the MTEB baseline uses it) whose index is a sparse matrix of precomputed
scores, so scoring a question is one sparse column sum (well under a millisecond at SciFact size), and whose
``save``/``load`` write ``.npy`` arrays and JSON only: we load with ``allow_pickle=False``, no pickle anywhere.
Words are lower-cased, English stop words dropped and stemmed with PyStemmer (Snowball), as in the published
baselines.

Layout inside a generation (every file checksummed in the manifest by ``store.write_generation``)::

    lexical/qa-lexical.json      our header: format version, settings, chunk count; checked on load
    lexical/*.index.npy, *.json  bm25s's own save format (sparse score matrix, vocabulary, parameters)

Example::

    >>> files = index_files(["Apples\\nApples grow on trees.", "Rivers\\nThe Danube flows."], LexicalSettings())
    >>> bm25 = LexicalIndex.from_files(files)
    >>> int(bm25.scores("Which rivers flow?").argmax())
    1
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.errors import REBUILD_HINT, IndexCorruptError
from qa.records import Document
from qa.settings import LexicalSettings
from qa.text import stemmer

if TYPE_CHECKING:
    from qa.index.store import ChunkTable

LEXICAL_FORMAT = 1
FOLDER = "lexical"
HEADER = "qa-lexical.json"
CORPUS_STATS = "corpus.json"  # a sharded generation's corpus-wide BM25 statistics
FREQUENCIES = "document-frequencies.npy"


def analyze(texts: Sequence[str]) -> list[list[str]]:
    """Texts -> lower-cased, stop-word-free, stemmed terms (the one analyzer for chunks and questions)."""
    import bm25s

    return bm25s.tokenize(list(texts), stopwords="en", stemmer=stemmer(), return_ids=False, show_progress=False)


def lexical_text(doc: Document, start: int, end: int) -> str:
    """What BM25 reads for a chunk: its document's title (unless the chunk starts with it) and the chunk text."""
    text = doc.text[start:end]
    title = doc.title.strip()
    return text if not title or text.startswith(title) else f"{title}\n{text}"


def lexical_texts(documents: Sequence[Document], chunks: ChunkTable) -> list[str]:
    """``lexical_text`` of every chunk row, in row order: what BM25 indexes for a generation."""
    return [lexical_text(documents[d], s, e) for d, s, e in zip(chunks.doc, chunks.start, chunks.end, strict=True)]


def index_files(texts: Sequence[str], settings: LexicalSettings) -> dict[str, bytes]:
    """The generation's ``lexical/`` files for chunk texts in row order (what ``write_generation`` takes)."""
    model, _ = _indexed(texts, settings)
    return _saved(model, len(texts), settings)


def repeated_index_files(texts: Sequence[str], rows: int, settings: LexicalSettings) -> dict[str, bytes]:
    """``index_files`` for ``texts`` repeated until ``rows`` rows (row ``r`` holds ``texts[r % len(texts)]``),
    each distinct text analysed once: BM25 for a synthetic index built by repeating a real corpus."""
    model, _ = _indexed(texts, settings, rows=rows)
    return _saved(model, rows, settings)


def _indexed(texts: Sequence[str], settings: LexicalSettings, *, rows: int | None = None) -> tuple[Any, float]:
    """A bm25s index over ``texts`` (repeated until ``rows`` rows when given) and the average terms per row.

    subtle: bm25s refuses an empty corpus; a chunk with no indexable word gets one impossible term instead.
    subtle: analysing a million chunk texts as strings would hold about 90M Python strings at once; repeats share
    one list of term ids per text instead, and bm25s takes ids with their vocabulary.
    """
    import bm25s
    from bm25s.tokenization import Tokenized

    model = bm25s.BM25(k1=settings.k1, b=settings.b, method=settings.method)
    tokens = [terms or ["\x00"] for terms in analyze(texts)]
    if rows is None:
        model.index(tokens, show_progress=False)
        return model, float(np.mean([len(terms) for terms in tokens])) if tokens else 0.0
    vocab: dict[str, int] = {}
    ids = [[vocab.setdefault(term, len(vocab)) for term in terms] for terms in tokens]
    model.index(Tokenized(ids=[ids[row % len(ids)] for row in range(rows)], vocab=vocab), show_progress=False)
    lengths = np.array([len(terms) for terms in ids], dtype=np.float64)
    repeats = np.bincount(np.arange(rows) % len(ids), minlength=len(ids))
    return model, float(lengths @ repeats / rows) if rows else 0.0


def sharded_index_files(texts: Sequence[str], bounds: Sequence[int], settings: LexicalSettings, *,
                        rows: int | None = None) -> tuple[dict[str, bytes], list[dict[str, bytes]]]:
    """BM25 for a sharded generation: the corpus statistics, once, and each shard's ``lexical/`` files.

    ``bounds`` are the shards' first rows and the end (``[0, ..., rows]``); ``rows`` as for
    ``repeated_index_files`` (None: one text per row). The index is built once over every row, so document
    frequencies and the average length are the corpus's, then its score matrix is cut into the shards' rows: a
    chunk's score for a question is the same number in its shard as in an unsharded index. The statistics are
    written beside the shards (``lexical/corpus.json``, ``lexical/document-frequencies.npy``) for whoever adds
    documents to one shard later; answering needs only each shard's own files.
    """
    model, average = _indexed(texts, settings, rows=rows)
    whole = model.scores
    shards = []
    for first, end in zip(bounds[:-1], bounds[1:], strict=True):
        model.scores = {**_rows_of(whole, first, end), "num_docs": end - first}
        shards.append(_saved(model, end - first, settings))
    model.scores = whole
    frequencies = np.diff(whole["indptr"]).astype(np.int64)  # chunks holding each vocabulary term
    buffer = io.BytesIO()
    np.save(buffer, frequencies, allow_pickle=False)
    stats = {"format": LEXICAL_FORMAT, "settings": settings.to_dict(), "chunks": int(whole["num_docs"]),
             "average_length": average, "vocabulary": len(frequencies)}
    return {f"{FOLDER}/{CORPUS_STATS}": json.dumps(stats, indent=2).encode(),
            f"{FOLDER}/{FREQUENCIES}": buffer.getvalue()}, shards


def _rows_of(scores: dict[str, Any], first: int, end: int) -> dict[str, np.ndarray]:
    """The rows ``first`` to ``end`` of bm25s's score matrix (CSC: one column of chunk rows per term)."""
    indices = scores["indices"]
    keep = (indices >= first) & (indices < end)
    kept_before = np.concatenate([[0], np.cumsum(keep)])
    return {"data": scores["data"][keep], "indices": (indices[keep] - first).astype(indices.dtype),
            "indptr": kept_before[scores["indptr"]].astype(scores["indptr"].dtype)}


def _saved(model: Any, chunks: int, settings: LexicalSettings) -> dict[str, bytes]:
    """A bm25s model's own save files under ``lexical/``, with our header."""
    files: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="qa-lexical-") as tmp:
        model.save(tmp, corpus=None, allow_pickle=False, show_progress=False)
        for path in sorted(Path(tmp).iterdir()):
            files[f"{FOLDER}/{path.name}"] = path.read_bytes()
    header = {"format": LEXICAL_FORMAT, "settings": settings.to_dict(), "chunks": chunks}
    files[f"{FOLDER}/{HEADER}"] = json.dumps(header, indent=2).encode()
    return files


def manifest_entry(settings: LexicalSettings) -> dict[str, Any]:
    """What the manifest records, so a build knows when the lexical index must be rewritten."""
    return {"format": LEXICAL_FORMAT, **settings.to_dict()}


class LexicalIndex:
    """A loaded BM25 index: ``scores(question)`` gives one float32 score per chunk row."""

    def __init__(self, model: Any, chunks: int):
        self.model = model
        self.chunks = chunks

    @classmethod
    def load(cls, gen: Path, *, chunks: int, mmap: bool = True) -> LexicalIndex:
        """The generation's BM25 index, its score arrays memory-mapped unless ``mmap`` is False.

        Why memory-mapped: a question reads only the score columns of its own terms, so the rest of the matrix
        (most of BM25's memory; 440 MB at a million chunks) stays on disk, in the page cache at most, where the
        system can reclaim it. The arrays are read-only, like the generation they belong to.
        """
        folder = Path(gen) / FOLDER
        try:
            header = json.loads((folder / HEADER).read_text())
        except FileNotFoundError as exc:
            raise IndexCorruptError(f"the index at {gen} has no lexical (BM25) index: {REBUILD_HINT}") from exc
        except (OSError, ValueError) as exc:
            raise IndexCorruptError(f"the BM25 header {folder / HEADER} cannot be read: {REBUILD_HINT}") from exc
        if not isinstance(header, dict) or header.get("format") != LEXICAL_FORMAT or header.get("chunks") != chunks:
            raise IndexCorruptError(
                f"the BM25 index in {folder} has another format or chunk count than the index: {REBUILD_HINT}"
            )
        import bm25s

        try:
            model = bm25s.BM25.load(str(folder), allow_pickle=False, load_corpus=False, mmap=mmap,
                                    show_progress=False)
        except Exception as exc:  # a damaged array or JSON file: one message and the fix
            raise IndexCorruptError(f"the BM25 index in {folder} cannot be read ({type(exc).__name__}): "
                                    f"{REBUILD_HINT}") from exc
        if model.scores["num_docs"] != chunks:
            raise IndexCorruptError(f"the BM25 index in {folder} does not match the chunk table: {REBUILD_HINT}")
        # A set of every term id, which only bm25s's own ``retrieve`` reads; we score by id (``scores_for_terms``).
        # It is the largest Python object of a loaded BM25 index (2 MB of SciFact's 7).
        model.unique_token_ids_set = None
        return cls(model, chunks)

    @classmethod
    def from_files(cls, files: dict[str, bytes]) -> LexicalIndex:
        """Load straight from ``index_files`` output (tests, doctest)."""
        with tempfile.TemporaryDirectory(prefix="qa-lexical-") as tmp:
            for name, data in files.items():
                (Path(tmp) / name).parent.mkdir(parents=True, exist_ok=True)
                (Path(tmp) / name).write_bytes(data)
            header = json.loads(files[f"{FOLDER}/{HEADER}"])
            return cls.load(Path(tmp), chunks=header["chunks"], mmap=False)  # the folder goes away

    def score_array_bytes(self) -> int:
        """Bytes of the BM25 score arrays (the sparse matrix; memory-mapped when loaded from a generation)."""
        return sum(a.nbytes for a in self.model.scores.values() if isinstance(a, np.ndarray))

    def term_ids(self, question: str) -> list[int]:
        return self.model.get_tokens_ids(analyze([question])[0])

    def scores(self, question: str) -> np.ndarray:
        """BM25 score of every chunk row (0 where no question term occurs)."""
        return self.scores_for_terms(self.term_ids(question))

    def scores_for_terms(self, ids: Sequence[int]) -> np.ndarray:
        """Scores for given vocabulary ids."""
        if not len(ids):
            return np.zeros(self.chunks, dtype=np.float32)
        return np.asarray(self.model.get_scores_from_ids(list(ids)), dtype=np.float32)
