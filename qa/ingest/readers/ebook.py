"""EPUB e-books: the chapters in reading order (the spine), each under its title, with ebooklib.

ebooklib is the maintained EPUB 2/3 reader; each chapter's XHTML goes through the HTML reader's main-text
extraction (``web.main_text``). A chapter's title comes from the table of contents, else its first heading, else
"Chapter N"; it starts the chapter as a heading line, a section of its own, so a passage's location is its chapter.
Dublin Core metadata give the title, the publisher (else the author) and the date.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from pathlib import Path

from qa.errors import UnreadableDocument
from qa.ingest.readers.archive import check_zip
from qa.ingest.readers.base import (
    READ_DEFAULTS,
    Problem,
    ReadOptions,
    ReadResult,
    clean_title,
    quiet,
    require_text,
)
from qa.records import Document

_KIND = "EPUB"
_DAMAGED = "not a valid EPUB file (damaged, or another format renamed): re-export it or remove it"
_HEADING = re.compile(rb"<h[1-3][^>]*>(.*?)</h[1-3]>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")


def read_epub(path: Path, rel: str, data: bytes, options: ReadOptions = READ_DEFAULTS) -> ReadResult:
    import ebooklib
    from ebooklib import epub

    check_zip(data, _KIND, "re-export it or remove it")
    try:
        with quiet("ebooklib"):
            book = epub.read_epub(io.BytesIO(data), {"ignore_ncx": True})
            chapters, problems = _chapters(book, rel)
            meta = {name: _first(book, name) for name in ("title", "creator", "publisher", "date")}
    except (ebooklib.epub.EpubException, KeyError, ValueError, TypeError, IndexError, AttributeError,
            zipfile.BadZipFile, zlib.error, EOFError, SyntaxError, OSError):
        raise UnreadableDocument(_DAMAGED) from None
    sections, offset = [], 0
    for heading, body in chapters:
        sections.append((offset, heading))
        offset += len(heading) + 1 + len(body) + 2
    text = require_text("\n\n".join(f"{heading}\n{body}" for heading, body in chapters), "the chapters have no text")
    date = _DATE.match(meta["date"] or "")
    document = Document(doc_id=rel, path=rel, text=text, title=clean_title(meta["title"]) or path.stem,
                        publisher=clean_title(meta["publisher"] or meta["creator"]),
                        date=date.group(0) if date else None, sections=tuple(sections))
    return ReadResult((document,), tuple(problems))


def _first(book: object, name: str) -> str | None:
    values = book.get_metadata("DC", name)  # type: ignore[attr-defined]
    return str(values[0][0]) if values and values[0] and values[0][0] else None


def _chapters(book: object, rel: str) -> tuple[list[tuple[str, str]], list[Problem]]:
    """``(title, text)`` for each spine document with text, in reading order."""
    from qa.ingest.readers.web import main_text

    titles = _toc_titles(book.toc)  # type: ignore[attr-defined]
    chapters, problems = [], []
    for idref, *_ in book.spine:  # type: ignore[attr-defined]
        item = book.get_item_with_id(idref)  # type: ignore[attr-defined]
        if item is None:
            continue
        content = item.get_content()
        try:
            body = main_text(content.decode("utf-8", errors="replace")).strip()
        except UnreadableDocument as exc:
            problems.append(Problem(rel, f"chapter {item.get_name()}: {exc}"))
            continue
        if not body:
            continue
        title = titles.get(item.get_name()) or _first_heading(content) or f"Chapter {len(chapters) + 1}"
        if body.startswith(title):
            body = body[len(title):].lstrip("\n")
        chapters.append((title, body))
    return chapters, problems


def _toc_titles(toc: object) -> dict[str, str]:
    """File name -> title, from the (nested) table of contents; the first entry for a file wins."""
    titles: dict[str, str] = {}
    for entry in toc if isinstance(toc, list | tuple) else ():
        if isinstance(entry, tuple) and len(entry) == 2:  # (section, children)
            entry, children = entry
            for name, title in _toc_titles(children).items():
                titles.setdefault(name, title)
        href = getattr(entry, "href", None)
        title = clean_title(getattr(entry, "title", None))
        if href and title:
            titles.setdefault(href.split("#")[0], title)
    return titles


def _first_heading(content: bytes) -> str | None:
    match = _HEADING.search(content)
    return clean_title(_TAG.sub("", match.group(1).decode("utf-8", errors="replace"))) if match else None
