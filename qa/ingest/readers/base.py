"""What every format reader returns, and the small helpers they share."""

from __future__ import annotations

import datetime as dt
import logging
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from qa.errors import UnreadableDocument
from qa.ingest.layout import TextLayout
from qa.records import Document

TITLE_MAX_CHARS = 150


@dataclass(frozen=True)
class Problem:
    """A file (or part of one) the build skips; ``reason`` names the problem and, if there is one, the fix."""

    path: str  # relative to the corpus root (posix)
    reason: str


@dataclass(frozen=True)
class ReadResult:
    """The documents read from one file, non-fatal problems inside it (e.g. a broken ``.jsonl`` line), and where
    the words of a paged document lie on its pages (a PDF's, by doc_id)."""

    documents: tuple[Document, ...]
    problems: tuple[Problem, ...] = ()
    layouts: dict[str, TextLayout] = field(default_factory=dict)


@dataclass(frozen=True)
class ReadOptions:
    """What a reader may need beyond the file's bytes: Tesseract's languages for scanned pages (``eng+deu``)."""

    ocr_languages: str = "eng"


READ_DEFAULTS = ReadOptions()

# The line boundaries of ``str.splitlines``.
_LINE_BREAK = re.compile("\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")


def first_line(text: str) -> str:
    """The first non-empty line, stripped and trimmed to ``TITLE_MAX_CHARS``.

    >>> first_line("\\n  Intro \\nmore")
    'Intro'

    Lines are found one at a time, as ``str.splitlines`` would cut them: a 50 MB text that is refused for its length
    a moment later is not split into half a million lines to find its title.
    """
    start = 0
    for match in _LINE_BREAK.finditer(text):
        if line := text[start:match.start()].strip():
            return line[:TITLE_MAX_CHARS]
        start = match.end()
    return text[start:].strip()[:TITLE_MAX_CHARS]


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
    if not text or text.isspace():  # what ``not text.strip()`` means, without copying a large text
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
