"""Pure: which documents a question may draw on (source label or publisher, date range, path glob).

Filters become a boolean mask over documents, and from it over chunk rows, *before* search, so a filtered question
still gets k results whenever k matching documents exist.

Dates are ISO (``2024``, ``2024-11`` or ``2024-11-30``) and compared as periods: ``date_from="2024-11"`` starts on
November 1, ``date_to="2024"`` ends on December 31, and a document dated ``2024-11`` matches any range that overlaps
November 2024. A document without a readable date is left out only when a date filter is set.

Example::

    >>> doc = Document("a.md", "a.md", "x", "T", "Wilson Center", "2024-03-01")
    >>> Filters(source="wilson", date_from="2024").matches(doc), Filters(date_to="2023-12").matches(doc)
    (True, False)
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

import numpy as np

from qa.errors import QuestionError
from qa.records import Document

_ISO_PREFIX = re.compile(r"^\s*(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?")


def date_period(value: str) -> tuple[dt.date, dt.date] | None:
    """``"2024-11"`` -> (2024-11-01, 2024-11-30); None when ``value`` does not start with an ISO date."""
    match = _ISO_PREFIX.match(value or "")
    if not match:
        return None
    year, month, day = (int(g) if g else None for g in match.groups())
    try:
        if month is None:
            return dt.date(year, 1, 1), dt.date(year, 12, 31)
        if day is None:
            return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])
        return dt.date(year, month, day), dt.date(year, month, day)
    except ValueError:
        return None


def _path_matches(path: str, pattern: str) -> bool:
    """A glob (``reports/*.pdf``); a pattern without wildcards also matches everything under that folder."""
    if fnmatchcase(path, pattern):
        return True
    return not any(ch in pattern for ch in "*?[") and path.startswith(pattern.rstrip("/") + "/")


@dataclass(frozen=True)
class Filters:
    """``source``: case-insensitive substring of the source label (title · publisher · date) or publisher;
    ``date_from``/``date_to``: ISO dates, inclusive; ``path``: a glob on the document's path (``reports/*.pdf``).
    """

    source: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    path: str | None = None

    def __post_init__(self) -> None:
        for name in ("source", "date_from", "date_to", "path"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise QuestionError(f"filter {name} must be text, not {value!r}")
            object.__setattr__(self, name, (value or "").strip() or None)
        for name in ("date_from", "date_to"):
            value = getattr(self, name)
            if value is not None and (date_period(value) is None or not _ISO_PREFIX.fullmatch(value)):
                raise QuestionError(f"filter {name}={value!r} is not an ISO date: use YYYY, YYYY-MM or YYYY-MM-DD")
        low, high = self._bounds()
        if low and high and low > high:
            raise QuestionError(f"date_from={self.date_from} is after date_to={self.date_to}: swap them")

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Filters:
        data = data or {}
        unknown = set(data) - {"source", "date_from", "date_to", "path"}
        if unknown:
            raise QuestionError(f"unknown filter {sorted(unknown)[0]!r}: use source, date_from, date_to or path")
        return cls(**data)

    @property
    def active(self) -> bool:
        return any((self.source, self.date_from, self.date_to, self.path))

    def _bounds(self) -> tuple[dt.date | None, dt.date | None]:
        low = date_period(self.date_from)[0] if self.date_from else None
        high = date_period(self.date_to)[1] if self.date_to else None
        return low, high

    def matches(self, doc: Document) -> bool:
        if self.source:
            needle = self.source.casefold()
            if needle not in doc.source.casefold() and needle not in (doc.publisher or "").casefold():
                return False
        if self.path and not _path_matches(doc.path, self.path):
            return False
        if self.date_from or self.date_to:
            period = date_period(doc.date or "")
            if period is None:
                return False
            low, high = self._bounds()
            if (low and period[1] < low) or (high and period[0] > high):
                return False
        return True

    def document_mask(self, documents: list[Document]) -> np.ndarray:
        return np.fromiter((self.matches(d) for d in documents), dtype=bool, count=len(documents))
