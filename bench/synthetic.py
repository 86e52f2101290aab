"""Synthetic vectors for the scale benchmarks, shaped like the real ones.

Uniform random unit vectors are the worst case for any ANN index and look nothing like sentence embeddings (which
live near a low-dimensional, clustered subspace), so each synthetic vector is a real SciFact chunk vector moved
along the difference of two other real vectors::

    x = normalise(v[a] + spread * (v[b] - v[c]))        a, b, c drawn at random

With ``spread = 0.35`` a synthetic vector keeps a cosine of about 0.8 with the vector it came from: near
paraphrases of real passages, spread over the same topics. Queries stay real (the SciFact claims, embedded).
"""

from __future__ import annotations

import numpy as np

SPREAD = 0.35


def synthetic_vectors(real: np.ndarray, n: int, *, seed: int = 0, spread: float = SPREAD,
                      block: int = 100_000) -> np.ndarray:
    """``n`` unit float32 vectors built from the rows of ``real``; the first ``len(real)`` rows are ``real``."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, real.shape[1]), dtype=np.float32)
    keep = min(n, len(real))
    out[:keep] = real[:keep]
    for start in range(keep, n, block):
        size = min(block, n - start)
        out[start:start + size] = synthetic_block(real, size, rng, spread=spread)
    return out


def synthetic_block(real: np.ndarray, size: int, rng: np.random.Generator, *, spread: float = SPREAD) -> np.ndarray:
    """``size`` synthetic unit vectors from the rows of ``real`` (none of them a row of ``real`` itself)."""
    a, b, c = (rng.integers(0, len(real), size) for _ in range(3))
    x = real[a] + spread * (real[b] - real[c])
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
