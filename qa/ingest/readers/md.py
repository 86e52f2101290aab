"""Markdown: optional YAML front matter for metadata, ATX headings (``#`` .. ``######``) as sections.

The front matter is parsed with PyYAML's ``safe_load`` (no object construction from untrusted files) so that
``date: 2024-11-30`` arrives as a date. The body is kept verbatim: chunk offsets point into it.

>>> data = b"---\\ntitle: Apples\\n---\\n# Growing\\nTrees.\\n"
>>> doc = read_markdown(Path("a.md"), "a.md", data).documents[0]
>>> doc.title, doc.text, doc.sections
('Apples', '# Growing\\nTrees.\\n', ((0, 'Growing'),))
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import yaml

from qa.errors import UnreadableDocument
from qa.ingest.readers.base import (
    READ_DEFAULTS,
    ReadOptions,
    ReadResult,
    clean_title,
    first_line,
    iso_date,
    require_text,
)
from qa.ingest.readers.text import decode_text
from qa.records import Document

_FRONT_MATTER = re.compile(r"---[ \t]*\n(.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|$)", re.DOTALL)
_HEADING = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*")
_FENCE = re.compile(r" {0,3}(```|~~~)")
_FIX = "fix the block between the leading '---' lines or remove it"


def read_markdown(path: Path, rel: str, data: bytes, options: ReadOptions = READ_DEFAULTS) -> ReadResult:
    text = decode_text(data)
    meta: dict[str, Any] = {}
    match = _FRONT_MATTER.match(text)
    if match:
        meta = _parse_front_matter(match.group(1) or "")
        text = text[match.end() :]
    require_text(text, "empty, or front matter only" if match else "empty or whitespace only")
    sections = headings(text)
    level_one = next((title for _, title, level in sections if level == 1), None)
    title = clean_title(meta.get("title")) or level_one or first_line(text).lstrip("#").strip() or first_line(text)
    date = meta.get("date")
    document = Document(
        doc_id=rel,
        path=rel,
        text=text,
        title=title,
        publisher=clean_title(meta.get("publisher") or meta.get("source")),
        date=iso_date(date) if isinstance(date, dt.date) else clean_title(date),
        url=clean_title(meta.get("url")),
        sections=tuple((offset, heading) for offset, heading, _ in sections),
    )
    return ReadResult((document,))


def _parse_front_matter(block: str) -> dict[str, Any]:
    try:
        meta = yaml.safe_load(block)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""  # +2: 0-based, after the opening '---'
        problem = getattr(exc, "problem", None) or "syntax error"
        raise UnreadableDocument(f"front matter is not valid YAML{where} ({problem}): {_FIX}") from None
    except ValueError as exc:  # a value YAML recognises but cannot build, e.g. date: 2024-13-01
        raise UnreadableDocument(f"front matter has an impossible value ({exc}): {_FIX}") from None
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise UnreadableDocument(f"front matter must be 'key: value' lines, found a {type(meta).__name__}: {_FIX}")
    return {str(key).lower(): value for key, value in meta.items()}


def headings(text: str) -> list[tuple[int, str, int]]:
    """``(offset of the heading line, heading text, level)`` for each ATX heading outside fenced code."""
    found = []
    fence = None
    offset = 0
    for line in text.split("\n"):
        opening = _FENCE.match(line)
        if opening and (fence is None or opening.group(1) == fence):
            fence = opening.group(1) if fence is None else None
        elif fence is None and (match := _HEADING.fullmatch(line)) and match.group(2):
            found.append((offset, match.group(2).strip(), len(match.group(1))))
        offset += len(line) + 1
    return found
