"""Excel ``.xlsx``: every sheet's cells as shown (saved values, never formulas), each row read with its header.

openpyxl is the maintained reader of the Office Open XML workbook format; ``data_only=True`` gives the value the
spreadsheet program last computed for a formula cell, not the formula (ragflow #2406), and ``read_only=True``
streams rows instead of building every cell object. A sheet becomes blocks of rows under headings naming the sheet
and row range (``qa.ingest.readers.tables``), the location of each passage. Workbook properties give the title
(else the file name), the author as publisher and the creation date.
"""

from __future__ import annotations

import io
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
    iso_date,
    quiet,
    require_text,
)
from qa.ingest.readers.tables import MAX_ROWS, cell_text, table_blocks
from qa.records import Document

MAX_SHEETS = 1_000
_KIND = "Excel .xlsx"
_DAMAGED = "not a valid Excel .xlsx file (damaged, or another format renamed; old .xls files are not read): " \
           "re-save it as .xlsx or remove it"


def read_xlsx(path: Path, rel: str, data: bytes, options: ReadOptions = READ_DEFAULTS) -> ReadResult:
    import openpyxl

    check_zip(data, _KIND, "re-save it as .xlsx or remove it")
    try:
        with quiet("openpyxl"):
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            if len(book.sheetnames) > MAX_SHEETS:
                raise UnreadableDocument(f"the workbook has {len(book.sheetnames):,} sheets, over the {MAX_SHEETS:,} "
                                         "qa reads: split it into smaller workbooks")
            parts, sections, problems = _sheets(book, rel)
            properties = book.properties
    except UnreadableDocument:
        raise
    except (KeyError, ValueError, TypeError, IndexError, AttributeError, zipfile.BadZipFile, zlib.error, EOFError,
            OSError, SyntaxError):  # SyntaxError: ElementTree's ParseError on a damaged part
        raise UnreadableDocument(_DAMAGED) from None
    text = require_text("\n\n".join(parts), "every sheet is empty")
    document = Document(doc_id=rel, path=rel, text=text, title=clean_title(properties.title) or path.stem,
                        publisher=clean_title(properties.creator), date=iso_date(properties.created),
                        sections=tuple(sections))
    return ReadResult((document,), tuple(problems))


def _sheets(book: object, rel: str) -> tuple[list[str], list[tuple[int, str]], list[Problem]]:
    parts: list[str] = []
    sections: list[tuple[int, str]] = []
    problems: list[Problem] = []
    offset = 0
    for sheet in book.worksheets:  # type: ignore[attr-defined]
        rows = []
        for number, row in enumerate(sheet.iter_rows(), 1):
            if number > MAX_ROWS:
                problems.append(Problem(rel, f"sheet {sheet.title}: rows after {MAX_ROWS:,} are left out: "
                                             "split the sheet"))
                break
            rows.append((number, [cell_text(cell.value, getattr(cell, "number_format", "General")) for cell in row]))
        text, sheet_sections = table_blocks(clean_title(sheet.title) or "sheet", rows)
        if text:
            parts.append(text)
            sections.extend((offset + at, heading) for at, heading in sheet_sections)
            offset += len(text) + 2
    return parts, sections, problems
