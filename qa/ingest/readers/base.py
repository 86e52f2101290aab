"""What every format reader returns, and the small helpers they share."""

from __future__ import annotations

import datetime as dt
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from qa.errors import UnreadableDocument
from qa.records import Document

TITLE_MAX_CHARS = 150


@dataclass(frozen=True)
class Problem:
    """A file (or part of one) the build skips; ``reason`` names the problem and, if there is one, the fix."""

    path: str  # relative to the corpus root (posix)
    reason: str


@dataclass(frozen=True)
class ReadResult:
    """The documents read from one file, and non-fatal problems inside it (e.g. a broken ``.jsonl`` line)."""

    documents: tuple[Document, ...]
    problems: tuple[Problem, ...] = ()


def first_line(text: str) -> str:
    """The first non-empty line, stripped and trimmed to ``TITLE_MAX_CHARS``.

    >>> first_line("\\n  Intro \\nmore")
    'Intro'
    """
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:TITLE_MAX_CHARS]
    return ""


def clean_title(value: object) -> str | None:
    """A metadata title as a one-line string, or None when it is missing or blank."""
    if value is None:
        return None
    title = " ".join(str(value).split())
    return title[:TITLE_MAX_CHARS] or None


def iso_date(value: dt.date | None) -> str | None:
    """``date`` or ``datetime`` -> ``"YYYY-MM-DD"``."""
    if value is None:
        return None
    return (value.date() if isinstance(value, dt.datetime) else value).isoformat()


def require_text(text: str, what: str) -> str:
    """Refuse a document whose text is empty once stripped; ``what`` says where the text was looked for."""
    if not text.strip():
        raise UnreadableDocument(f"no text found ({what}): add some text or remove the file")
    return text


@contextmanager
def quiet(*loggers: str) -> Iterator[None]:
    """Silence library loggers (and warnings) while parsing: a damaged file is reported once, by us."""
    saved = [(logging.getLogger(name), logging.getLogger(name).level) for name in loggers]
    for logger, _ in saved:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in saved:
            logger.setLevel(level)
