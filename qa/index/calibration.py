"""Score calibration for fusion: how a question's scores spread over the *whole* corpus, per retriever.

Cosine scores and BM25 scores live on different scales, and the scale moves from question to question. Normalising
each retriever's scores by their mean and standard deviation over every chunk (a z-score) puts both on one scale
that does not depend on how many candidates were fetched; on the SciFact train split and held-out SQuAD questions
this beat min-max or z-scores over the top candidates and reciprocal-rank fusion (README, "Search quality").

For BM25 the full score vector is computed anyway. For dense scores a full pass would defeat an approximate index,
but no pass is needed: over chunk vectors ``v`` with mean ``mu`` and covariance ``C``, the scores ``q . v`` have mean
``q . mu`` and variance ``q' C q``. ``mu`` and ``C`` (d x d, 590 kB for 384 dimensions) are computed once per
generation at build time and stored in it, so the cost per question is one small matrix-vector product.

Example::

    >>> vectors = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], dtype=np.float32)
    >>> stats = DenseStats.from_vectors(vectors)
    >>> q = np.array([1.0, 0.0], dtype=np.float32)
    >>> np.allclose(stats.zscores(q, vectors @ q), ((vectors @ q) - (vectors @ q).mean()) / (vectors @ q).std())
    True
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.errors import REBUILD_HINT, IndexCorruptError

FORMAT = 1
FILE = "calibration/dense-moments.npz"
SAMPLE = 20_000  # rows used for the moments: a strided sample is plenty for two moments, and bounds the cost


def zscores(scores: np.ndarray) -> np.ndarray:
    """Scores over the whole corpus -> z-scores (zeros when they are all equal)."""
    scores = np.asarray(scores, dtype=np.float64)
    std = scores.std() if len(scores) else 0.0
    return (scores - scores.mean()) / std if std > 0 else np.zeros_like(scores)


@dataclass(frozen=True)
class DenseStats:
    mean: np.ndarray  # (d,)
    cov: np.ndarray  # (d, d)

    @classmethod
    def from_vectors(cls, vectors: np.ndarray) -> DenseStats:
        vectors = np.asarray(vectors, dtype=np.float64)
        if len(vectors) > SAMPLE:
            vectors = vectors[:: -(-len(vectors) // SAMPLE)]
        dim = vectors.shape[1] if vectors.ndim == 2 else 0
        if len(vectors) == 0:
            return cls(np.zeros(dim), np.zeros((dim, dim)))
        mean = vectors.mean(axis=0)
        centred = vectors - mean
        return cls(mean, centred.T @ centred / len(vectors))

    def zscores(self, query: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """z-scores of ``scores`` (inner products with ``query``) against the whole corpus."""
        query = np.asarray(query, dtype=self.cov.dtype).ravel()  # float32 when loaded: no float64 copy of C
        std = float(np.sqrt(max(float(query @ self.cov @ query), 0.0)))
        centred = np.asarray(scores, dtype=np.float64) - float(query @ self.mean)
        return centred / std if std > 0 else np.zeros_like(centred)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, mean=self.mean.astype(np.float64), cov=self.cov.astype(np.float64))
        return buffer.getvalue()

    @classmethod
    def load(cls, gen: Path, dim: int) -> DenseStats:
        path = Path(gen) / FILE
        try:
            with np.load(path, allow_pickle=False) as data:
                # C is stored in float64 and held in float32: half the memory, and a variance to 1e-6 or so
                stats = cls(data["mean"], data["cov"].astype(np.float32))
        except FileNotFoundError as exc:
            raise IndexCorruptError(f"the index at {gen} has no {FILE}: {REBUILD_HINT}") from exc
        except Exception as exc:  # a damaged array file: one message and the fix
            raise IndexCorruptError(f"{path} cannot be read ({type(exc).__name__}): {REBUILD_HINT}") from exc
        if stats.mean.shape != (dim,) or stats.cov.shape != (dim, dim):
            raise IndexCorruptError(f"{path} does not match the index dimension {dim}: {REBUILD_HINT}")
        return stats


def index_files(vectors: np.ndarray) -> dict[str, bytes]:
    """The generation's calibration file for its vectors (what ``store.write_generation`` takes)."""
    return {FILE: DenseStats.from_vectors(vectors).to_bytes()}
