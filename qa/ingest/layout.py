"""Pure: where a document's words lie on its pages, and the boxes that cover any span of its text.

A PDF reader records one row per word of the text layer: the word's character range in the document text, its page,
its line and its box. Any span (a chunk, an answer sentence) then maps to boxes with no second parse of the file:
the words it overlaps, merged per line. Words, not characters: a span that starts or ends inside a word is boxed to
the whole word, and sentences and chunks always start and end at word boundaries.

Boxes are fractions of the page as it is displayed (rotation and crop box applied, origin top left), so a renderer
multiplies them by its image size; they are stored as ``uint16`` in 1/65535 of the page (0.01 pt on a Letter page).

>>> layout = TextLayout.from_words([(0, 6, 1, 0, (0.1, 0.1, 0.2, 0.12)), (7, 12, 1, 0, (0.21, 0.1, 0.3, 0.12)),
...                                 (13, 18, 2, 1, (0.1, 0.05, 0.2, 0.07))])
>>> [(b.page, round(b.x0, 2), round(b.x1, 2)) for b in layout.boxes(0, 12)]   # two words, one line: one box
[(1, 0.1, 0.3)]
>>> [b.page for b in layout.boxes(8, 16)]   # a span across a page break is boxed on both pages
[1, 2]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

SCALE = 65535  # a box coordinate of 1.0 (the page's full width or height)


@dataclass(frozen=True)
class Box:
    """A rectangle on a page (1-based), in fractions of the displayed page, origin top left."""

    page: int
    x0: float
    y0: float
    x1: float
    y1: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class TextLayout:
    """One row per word, in text order: ``start``/``end`` (int32, offsets into the document text), ``page``
    (uint16, 1-based), ``line`` (int32, increasing through the document) and ``box`` (uint16, ``(n, 4)``:
    x0, y0, x1, y1 in 1/``SCALE`` of the page)."""

    start: np.ndarray
    end: np.ndarray
    page: np.ndarray
    line: np.ndarray
    box: np.ndarray

    def __len__(self) -> int:
        return len(self.start)

    @classmethod
    def from_words(cls, words: Iterable[tuple[int, int, int, int, tuple[float, float, float, float]]]) -> TextLayout:
        """``(start, end, page, line, (x0, y0, x1, y1))`` per word, boxes in fractions of the page."""
        rows = list(words)
        columns = [np.array([w[i] for w in rows], dtype=np.int64) for i in range(4)]
        return cls.from_arrays(*columns, np.array([w[4] for w in rows], dtype=np.float64).reshape(-1, 4))

    @classmethod
    def from_arrays(cls, start: np.ndarray, end: np.ndarray, page: np.ndarray, line: np.ndarray,
                    box: np.ndarray) -> TextLayout:
        """Columns of one row per word, ``box`` (n x 4) in fractions of the page: stored in the compact types."""
        return cls(start=start.astype(np.int32), end=end.astype(np.int32), page=page.astype(np.uint16),
                   line=line.astype(np.int32), box=np.rint(np.clip(box, 0.0, 1.0) * SCALE).astype(np.uint16))

    def boxes(self, start: int, end: int) -> list[Box]:
        """The boxes covering ``text[start:end]``: the words it overlaps, one box per line they are on."""
        if end <= start:
            return []
        first = int(np.searchsorted(self.end, start, side="right"))  # first word ending after ``start``
        last = int(np.searchsorted(self.start, end, side="left"))  # words starting before ``end``
        found: list[Box] = []
        for lo, hi in _runs(self.line[first:last]):
            rows = slice(first + lo, first + hi)
            box = self.box[rows].astype(np.float64) / SCALE
            found.append(Box(int(self.page[first + lo]), float(box[:, 0].min()), float(box[:, 1].min()),
                             float(box[:, 2].max()), float(box[:, 3].max())))
        return found

    def pages(self, start: int, end: int) -> list[int]:
        """The pages ``text[start:end]`` has words on, in order."""
        return sorted({box.page for box in self.boxes(start, end)})


def _runs(values: np.ndarray) -> list[tuple[int, int]]:
    """``(lo, hi)`` of each run of equal consecutive values."""
    if not len(values):
        return []
    cuts = np.flatnonzero(np.diff(values)) + 1
    bounds = [0, *cuts.tolist(), len(values)]
    return list(zip(bounds[:-1], bounds[1:], strict=True))
