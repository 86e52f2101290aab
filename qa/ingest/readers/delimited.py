"""CSV and TSV: each row read with its header (``qa.ingest.readers.tables``), blocks of rows as sections.

The standard library's ``csv`` reads quoting and embedded newlines correctly; ``.tsv`` is tab-separated, and for
``.csv`` the delimiter (comma, semicolon, tab or bar) is sniffed from the first lines, as spreadsheets export either.
The title is the file name; the location of a passage is its row range.

>>> data = b"Country,Displaced\\nSyria,6.8 million\\n"
>>> doc = read_delimited(Path("displaced.csv"), "displaced.csv", data).documents[0]
>>> doc.title, doc.text
('displaced', 'displaced, row 2\\nCountry: Syria; Displaced: 6.8 million')
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from qa.errors import UnreadableDocument
from qa.ingest.readers.base import READ_DEFAULTS, ReadOptions, ReadResult, clean_title, require_text
from qa.ingest.readers.tables import MAX_ROWS, table_blocks
from qa.ingest.readers.text import decode_text
from qa.records import Document

_SNIFF_CHARS = 8192


def read_delimited(path: Path, rel: str, data: bytes, options: ReadOptions = READ_DEFAULTS) -> ReadResult:
    text = decode_text(data)
    delimiter = "\t" if path.suffix.lower() == ".tsv" else _sniff(text)
    name = clean_title(path.stem) or rel
    try:
        rows = _numbered(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise UnreadableDocument(f"not valid {path.suffix.lower()} ({exc}): re-export it or remove it") from None
    body, sections = table_blocks(name, rows)
    document = Document(doc_id=rel, path=rel, text=require_text(body, "every row is empty"), title=name,
                        sections=tuple(sections))
    return ReadResult((document,))


def _numbered(reader: csv.Reader) -> list[tuple[int, list[str]]]:
    """``(record number, cells)``: the header is row 1, as a spreadsheet program would number it."""
    rows = []
    for number, row in enumerate(reader, 1):
        if number > MAX_ROWS:
            raise UnreadableDocument(f"the table has more than {MAX_ROWS:,} rows: split it into smaller files")
        rows.append((number, [" ".join(cell.split()) for cell in row]))
    return rows


def _sniff(text: str) -> str:
    try:
        return csv.Sniffer().sniff(text[:_SNIFF_CHARS], delimiters=",;\t|").delimiter
    except csv.Error:  # one column, or too irregular to tell: commas
        return ","
