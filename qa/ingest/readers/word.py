"""Word ``.docx``: paragraphs and tables in document order, headings as sections, core properties as metadata.

A table is one line per row, each read with its header row (``"Variety: Gala; Month: September"``), so a row
stays together with the names of its columns.

python-docx is the standard, maintained reader for the Office Open XML format and needs no Word installation.
Old binary ``.doc`` files are not supported; the refusal says to re-save them as ``.docx``.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path

import docx
import lxml.etree
from docx.opc.exceptions import OpcError
from docx.table import Table
from docx.text.paragraph import Paragraph

from qa.errors import UnreadableDocument
from qa.ingest.readers.archive import check_zip
from qa.ingest.readers.base import (
    READ_DEFAULTS,
    Problem,
    ReadOptions,
    ReadResult,
    clean_title,
    first_line,
    iso_date,
    require_text,
)
from qa.ingest.readers.tables import keyed_rows
from qa.records import Document

_BLOCK_BREAK = "\n\n"
_DAMAGED = (
    "not a valid Word .docx file (damaged, or another format renamed to .docx; old .doc files are not read): "
    "re-save it as .docx or remove it"
)
_XML_ERRORS = (
    OpcError,
    zipfile.BadZipFile,
    KeyError,
    ValueError,
    IndexError,
    AttributeError,
    lxml.etree.LxmlError,
)


def read_docx(path: Path, rel: str, data: bytes, options: ReadOptions = READ_DEFAULTS) -> ReadResult:
    check_zip(data, "Word .docx", "re-save it as .docx or remove it")
    try:
        word = docx.Document(io.BytesIO(data))
        blocks, problems = _blocks(word, rel)
        properties = word.core_properties
        title, author, created = properties.title, properties.author, properties.created
    except (*_XML_ERRORS, zlib.error, EOFError, NotImplementedError):
        raise UnreadableDocument(_DAMAGED) from None
    text_parts: list[str] = []
    sections = []
    offset = 0
    for block, heading in blocks:
        if heading:
            sections.append((offset, block[:150]))
        text_parts.append(block)
        offset += len(block) + len(_BLOCK_BREAK)
    text = require_text(_BLOCK_BREAK.join(text_parts), "the document has no text")
    document = Document(
        doc_id=rel,
        path=rel,
        text=text,
        title=clean_title(title) or (sections[0][1] if sections else first_line(text)),
        publisher=clean_title(author),
        date=iso_date(created),
        sections=tuple(sections),
    )
    return ReadResult((document,), tuple(problems))


def _blocks(word: docx.document.Document, rel: str) -> tuple[list[tuple[str, bool]], list[Problem]]:
    """``(text, is_heading)`` for each non-empty paragraph and each table, in document order."""
    blocks, problems = [], []
    for number, item in enumerate(word.iter_inner_content(), 1):
        if isinstance(item, Paragraph):
            if item.text.strip():
                blocks.append((item.text, _is_heading(item)))
        elif isinstance(item, Table):
            try:
                table = _table_text(item)
            except _XML_ERRORS as exc:
                problems.append(
                    Problem(rel, f"block {number}: a table could not be read ({exc}); its text is left out")
                )
                continue
            if table.strip():
                blocks.append((table, False))
    return blocks, problems


def _is_heading(paragraph: Paragraph) -> bool:
    name = paragraph.style.name if paragraph.style is not None else ""
    return bool(name) and (name.startswith("Heading") or name == "Title")


def _table_text(table: Table) -> str:
    """One line per row, read with the header row (``qa.ingest.readers.tables``); a merged cell is written once."""
    rows = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) not in seen:
                seen.add(id(cell._tc))
                cells.append(" ".join(cell.text.split()))
        rows.append(cells)
    return "\n".join(keyed_rows(rows))
