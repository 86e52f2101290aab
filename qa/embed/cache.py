"""The embedding cache: vectors keyed by (model fingerprint, sha256 of the text the model read).

SQLite because it is in the standard library, transactional (a killed build keeps every committed batch, so the
next build does not embed those texts again) and safe for concurrent readers. Vectors are stored as raw float32
bytes, never pickled.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


class EmbeddingCache:
    def __init__(self, path: Path, model_fingerprint: str, dim: int):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.model = model_fingerprint
        self.dim = dim
        self.note: str | None = None  # set when a damaged cache file was set aside
        try:
            self._db = self._open(path)
        except sqlite3.OperationalError:
            raise  # locked, disk full, read-only: the caller says what to do
        except sqlite3.DatabaseError:
            # Only a cache: set the damaged file aside (never delete a user's file) and start an empty one.
            aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%dT%H%M%S')}")
            os.replace(path, aside)
            self._db = self._open(path)
            self.note = f"the embedding cache was damaged and was set aside as {aside.name}; starting a new one"

    @staticmethod
    def _open(path: Path) -> sqlite3.Connection:
        db = sqlite3.connect(path, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS vectors (model TEXT, key BLOB, vec BLOB, PRIMARY KEY (model, key))")
        except sqlite3.Error:
            db.close()
            raise
        return db

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        for i in range(0, len(keys), 500):
            batch = list(keys[i : i + 500])
            marks = ",".join("?" * len(batch))
            rows = self._db.execute(
                f"SELECT key, vec FROM vectors WHERE model = ? AND key IN ({marks})", [self.model, *batch]
            )
            for key, blob in rows:
                vec = np.frombuffer(blob, dtype=np.float32)
                if vec.shape == (self.dim,):
                    found[key] = vec
        return found

    def put_many(self, items: Iterable[tuple[bytes, np.ndarray]]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                [(self.model, key, np.asarray(vec, dtype=np.float32).tobytes()) for key, vec in items],
            )

    def close(self) -> None:
        self._db.close()
