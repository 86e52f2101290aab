"""A PDF's text layer read by PDFium (pypdfium2): each page's text and its words' boxes, from one parse.

The text of a page is PDFium's character list, one character per entry (what ``FPDFText_GetUnicode`` returns for
each index), with PDFium's generated ``\\r\\n`` line ends written ``\\n``: an offset into the text maps to exactly one
character index, so a word's box is its first and last character's. Loose character boxes (the font's ascent and
descent, not the ink) are used, so the words of a line share one height.

Boxes are turned into fractions of the page as it is displayed (``FPDF_PageToDevice``: the page's rotation and
crop box applied, origin top left), the coordinates a renderer of the same page draws in.
"""

from __future__ import annotations

import ctypes
import re
from dataclasses import dataclass

import numpy as np

from qa.errors import UnreadableDocument
from qa.ingest.layout import TextLayout
from qa.ingest.readers.base import Problem

DAMAGED = "not valid PDF (file is damaged or not a PDF): re-export it or remove it"
_WORD = re.compile(r"\S+")
_DEVICE = 1 << 24  # device size for the display transform: integer device coordinates, 6e-8 of the page apart
# Same-length replacements: PDFium's marker for a hyphen it found at a line end, a lone \r, other control
# characters and every white space but \n (so that words and lines are told apart by \S+ and \n alone)
_CONTROLS = {code: " " for code in [*range(0x20), *range(0x7F, 0xA0)]} | {0x02: "-", 0x0A: "\n", 0x0D: "\n"}
_OTHER_SPACE = re.compile(r"[^\S\n]")
_COLUMN_GAP = 0.03  # of the page's width (18 pt on a Letter page): wider than any space between words of prose
_TABLE_LINES = 3  # a header and two rows


@dataclass(frozen=True)
class PageWords:
    """One page's words: start and end in the page's text, line (counted from 0 on the page), box (n x 4,
    fractions of the displayed page)."""

    start: np.ndarray
    end: np.ndarray
    line: np.ndarray
    box: np.ndarray


NO_WORDS = PageWords(*(np.zeros(0, np.int64) for _ in range(3)), np.zeros((0, 4)))


def page_texts(data: bytes, rel: str) -> tuple[list[str], list[PageWords], list[Problem]]:
    """Each page's text and words; a page PDFium cannot read is empty and reported, the rest are kept."""
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data, password="")
    except pdfium.PdfiumError:
        raise UnreadableDocument(DAMAGED) from None
    texts, words, problems = [], [], []
    try:
        for number in range(1, len(pdf) + 1):
            try:
                text, page_words = _read_page(pdf[number - 1])
            except pdfium.PdfiumError as exc:
                text, page_words = "", NO_WORDS
                problems.append(Problem(rel, f"page {number} could not be read ({exc}): its text is left out"))
            texts.append(text)
            words.append(page_words)
    finally:
        pdf.close()
    if problems and len(problems) == len(texts):
        raise UnreadableDocument(DAMAGED)
    return texts, words, problems


def layout(words: list[PageWords], page_starts: list[int]) -> TextLayout:
    """The document's layout from each page's words and the offset where each page's text starts."""
    lines, line_base = [], 0
    for page in words:
        lines.append(page.line + line_base)
        line_base += int(page.line[-1]) + 1 if len(page.line) else 0
    offsets = [np.full(len(page.start), offset, np.int64) for page, offset in zip(words, page_starts, strict=True)]
    return TextLayout.from_arrays(
        start=np.concatenate([page.start for page in words]) + np.concatenate(offsets),
        end=np.concatenate([page.end for page in words]) + np.concatenate(offsets),
        page=np.concatenate([np.full(len(page.start), number) for number, page in enumerate(words, 1)]),
        line=np.concatenate(lines), box=np.concatenate([page.box for page in words]),
    )


def page_words(text: str, spans: list[tuple[int, int]], boxes: np.ndarray) -> PageWords:
    """A page's words from their ``(start, end)`` in ``text`` and their boxes (fractions of the displayed page);
    a word's line is the number of line breaks before it. The text layer's words and OCR's words both come here.

    >>> words = page_words("two words\\nthree", [(0, 3), (4, 9), (10, 15)], np.zeros((3, 4)))
    >>> words.line.tolist()
    [0, 0, 1]
    """
    if not spans:
        return NO_WORDS
    bounds = np.array(spans, dtype=np.int64)
    newlines = np.array([m.start() for m in re.finditer("\n", text)], dtype=np.int64)
    return PageWords(bounds[:, 0], bounds[:, 1], np.searchsorted(newlines, bounds[:, 0]),
                     np.asarray(boxes, dtype=np.float64).reshape(-1, 4))


def has_column_gaps(words: PageWords, min_lines: int = _TABLE_LINES, gap: float = _COLUMN_GAP) -> bool:
    """Whether ``min_lines`` lines in a row each hold a gap between two words wider than ``gap`` (a fraction of the
    page's width): a table's columns, which the text layer joins with single spaces.

    >>> boxes = np.array([[0.1, 0, 0.2, 0], [0.5, 0, 0.6, 0]] * 3)   # two words far apart, on three lines
    >>> has_column_gaps(PageWords(np.zeros(6), np.zeros(6), np.array([0, 0, 1, 1, 2, 2]), boxes))
    True
    >>> has_column_gaps(PageWords(np.zeros(6), np.zeros(6), np.array([0, 0, 1, 1, 3, 3]), boxes))
    False
    """
    if len(words.line) < 2 * min_lines:
        return False
    same_line = words.line[1:] == words.line[:-1]
    wide = same_line & (words.box[1:, 0] - words.box[:-1, 2] > gap)
    gapped = np.unique(words.line[1:][wide])
    runs = np.split(gapped, np.flatnonzero(np.diff(gapped) != 1) + 1)
    return any(len(run) >= min_lines for run in runs)


def _read_page(page: object) -> tuple[str, PageWords]:
    import pypdfium2.raw as raw

    textpage = page.get_textpage()
    try:
        count = raw.FPDFText_CountChars(textpage)
        text, raw_index = _page_text([raw.FPDFText_GetUnicode(textpage, i) for i in range(count)])
        rect = raw.FS_RECTF()
        spans, corners = [], []  # corners: left, top of the first character, right, bottom of the last
        for match in _WORD.finditer(text):
            raw.FPDFText_GetLooseCharBox(textpage, int(raw_index[match.start()]), rect)
            left, top = rect.left, rect.top
            raw.FPDFText_GetLooseCharBox(textpage, int(raw_index[match.end() - 1]), rect)
            spans.append(match.span())
            corners.append((left, top, rect.right, rect.bottom))
        if not spans:
            return text, NO_WORDS
        return text, page_words(text, spans, _displayed(_display_transform(page), np.array(corners, np.float64)))
    finally:
        textpage.close()
        page.close()


def _displayed(transform: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """Boxes in page points (left, top, right, bottom) -> (x0, y0, x1, y1) in fractions of the displayed page."""
    ones = np.ones(len(corners))
    a = transform @ np.stack([corners[:, 0], corners[:, 1], ones])  # one corner, then the opposite one
    b = transform @ np.stack([corners[:, 2], corners[:, 3], ones])
    return np.stack([np.minimum(a[0], b[0]), np.minimum(a[1], b[1]), np.maximum(a[0], b[0]),
                     np.maximum(a[1], b[1])], axis=1)


def _page_text(codes: list[int]) -> tuple[str, np.ndarray]:
    """The page's text with ``\r\n`` written ``\n``, and the character index behind each character of it."""
    array = np.array(codes, dtype=np.uint32)
    keep = np.ones(len(array), dtype=bool)
    keep[:-1] = ~((array[:-1] == 0x0D) & (array[1:] == 0x0A))  # the \n that follows stands for both
    raw_index = np.flatnonzero(keep)
    # characters PDFium could not map (above U+10FFFF, lone surrogates) decode as U+FFFD, one for one
    text = array[keep].astype("<u4").tobytes().decode("utf-32-le", errors="replace")
    return _OTHER_SPACE.sub(" ", text.translate(_CONTROLS)), raw_index


def _display_transform(page: object) -> np.ndarray:
    """The affine map (2 x 3) from page coordinates (points) to fractions of the displayed page, top left 0."""
    import pypdfium2.raw as raw

    def device(x: float, y: float) -> tuple[float, float]:
        dx, dy = ctypes.c_int(), ctypes.c_int()
        raw.FPDF_PageToDevice(page, 0, 0, _DEVICE, _DEVICE, 0, x, y, ctypes.byref(dx), ctypes.byref(dy))
        return dx.value / _DEVICE, dy.value / _DEVICE

    origin, along_x, along_y = device(0, 0), device(1000, 0), device(0, 1000)
    return np.array([
        [(along_x[0] - origin[0]) / 1000, (along_y[0] - origin[0]) / 1000, origin[0]],
        [(along_x[1] - origin[1]) / 1000, (along_y[1] - origin[1]) / 1000, origin[1]],
    ])
