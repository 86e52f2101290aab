"""Tables as text a question can find: each row read with its header, ``"Country: Syria; Displaced: 6.8 million"``.

A flattened run of cells ("Syria 6.8 million Sudan 11 million") loses which figure belongs to which column; one line
per row keyed by the header keeps a row together as one sentence (``qa.text`` ends a sentence at a line break), so
the answer sentence is the row. Spreadsheets and CSV files are cut into blocks of ``ROWS_PER_BLOCK`` rows, each
under a heading line that says where it is (``"Population, rows 2-21"``): the section of every chunk in the block.

>>> keyed_rows([["Country", "Displaced"], ["Syria", "6.8 million"], ["Sudan", ""]])
['Country: Syria; Displaced: 6.8 million', 'Country: Sudan']
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence

ROWS_PER_BLOCK = 20
MAX_ROWS = 200_000  # about 20 MB of text: past it a table is refused, not read for minutes


def cell_text(value: object, number_format: str = "General") -> str:
    """A cell's value as a spreadsheet shows it: whole numbers without ``.0``, percentages, ISO dates.

    >>> cell_text(6.0), cell_text(0.255, "0.0%"), cell_text(dt.datetime(2024, 11, 30)), cell_text(None)
    ('6', '25.5%', '2024-11-30', '')
    """
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        if number_format.endswith("%"):
            return f"{value * 100:.10g}%"
        return f"{value:.15g}"
    return " ".join(str(value).split())


def keyed_rows(rows: Sequence[Sequence[str]]) -> list[str]:
    """The first row is the header; each later row as ``"Header: value"`` pairs joined by ``"; "``, empties left out.

    A column without a header is named by its number (``column 3``); a table of one row is that row, unkeyed.
    """
    rows = [list(row) for row in rows if any(cell.strip() for cell in row)]
    if len(rows) < 2:
        return ["; ".join(cell for cell in row if cell) for row in rows]
    header = [name or f"column {number}" for number, name in enumerate(rows[0], 1)]
    lines = []
    for row in rows[1:]:
        pairs = [f"{header[i] if i < len(header) else f'column {i + 1}'}: {cell}"
                 for i, cell in enumerate(row) if cell]
        lines.append("; ".join(pairs))
    return lines


def table_blocks(name: str, rows: Iterable[tuple[int, Sequence[str]]]) -> tuple[str, list[tuple[int, str]]]:
    """A named table (a sheet, a CSV file) as text and its sections: a heading line before every block of rows.

    ``rows`` are ``(row number, cells)``; the first non-empty one is the header, repeated into every block's keys.

    >>> text, sections = table_blocks("Population", [(1, ["Country", "People"]), (2, ["Syria", "23 million"])])
    >>> text, sections
    ('Population, row 2\\nCountry: Syria; People: 23 million', [(0, 'Population, row 2')])
    """
    header: list[str] | None = None
    parts: list[str] = []
    sections: list[tuple[int, str]] = []
    block: list[tuple[int, str]] = []
    offset = 0

    def flush() -> None:
        nonlocal offset
        first, last = block[0][0], block[-1][0]
        heading = f"{name}, row {first}" if first == last else f"{name}, rows {first}-{last}"
        part = heading + "\n" + "\n".join(line for _, line in block)
        sections.append((offset, heading))
        parts.append(part)
        offset += len(part) + 2
        block.clear()

    for number, cells in rows:
        if not any(cell.strip() for cell in cells):
            continue
        if header is None:
            header = list(cells)
            continue
        line = keyed_rows([header, cells])[0]
        if line:
            block.append((number, line))
        if len(block) == ROWS_PER_BLOCK:
            flush()
    if block:
        flush()
    if not parts and header is not None:  # a header row alone is still the table's text
        sections.append((offset, name))
        parts.append(name + "\n" + "; ".join(cell for cell in header if cell))
    return "\n\n".join(parts), sections


_COLUMN_GAP = re.compile(r"\s{2,}")
def rows_from_layout(text: str) -> str | None:
    """A page laid out in columns (``pypdf``'s layout mode) with each table read row by row with its header, other
    lines with their spaces collapsed; None when no table is found.

    A table is at least three lines in a row (a header and two rows) that split into the same number (two or more)
    of cells at gaps of two or more spaces.

    >>> page = "Figures below.\\n  Country    Displaced\\n  Syria      6.8 million\\n  Sudan      11 million"
    >>> print(rows_from_layout(page))
    Figures below.
    Country: Syria; Displaced: 6.8 million
    Country: Sudan; Displaced: 11 million
    """
    lines = text.splitlines()
    cells = [_COLUMN_GAP.split(line.strip()) if line.strip() else [] for line in lines]
    out: list[str] = []
    found = False
    i = 0
    while i < len(lines):
        width = len(cells[i])
        j = i
        while width >= 2 and j < len(lines) and len(cells[j]) == width:
            j += 1
        if j - i >= 3:
            out.extend(keyed_rows(cells[i:j]))
            found, i = True, j
            continue
        if line := " ".join(lines[i].split()):
            out.append(line)
        i += 1
    return "\n".join(out) if found else None
