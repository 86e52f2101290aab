"""A PDF's text layer read by PDFium (pypdfium2): each page's text and its words' boxes, from one parse.

The text of a page is PDFium's character list, one character per entry (what ``FPDFText_GetUnicode`` returns for
each index), with PDFium's generated ``\\r\\n`` line ends written ``\\n``: an offset into the text maps to exactly one
character index, so a word's box is its first and last character's. Loose character boxes (the font's ascent and
descent, not the ink) are used, so the words of a line share one height.

Boxes are turned into fractions of the page as it is displayed (``FPDF_PageToDevice``: the page's rotation and
crop box applied, origin top left), the coordinates a renderer of the same page draws in.
"""

from __future__ import annotations

import bisect
import ctypes
import re

import numpy as np

from qa.errors import UnreadableDocument
from qa.ingest.layout import TextLayout
from qa.ingest.readers.base import Problem

DAMAGED = "not valid PDF (file is damaged or not a PDF): re-export it or remove it"
_WORD = re.compile(r"\S+")
_DEVICE = 1 << 24  # device size for the display transform: integer device coordinates, 6e-8 of the page apart
# PDFium's marker for a hyphen it found at a line end; other control characters become spaces (same length)
_REPLACE = {0x02: "-", 0x00: "\ufffd", 0x0D: "\n"}

Word = tuple[int, int, int, tuple[float, float, float, float]]  # start, end (in the page's text), line, box


def page_texts(data: bytes, rel: str) -> tuple[list[str], list[list[Word]], list[Problem]]:
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
                text, page_words = "", []
                problems.append(Problem(rel, f"page {number} could not be read ({exc}): its text is left out"))
            texts.append(text)
            words.append(page_words)
    finally:
        pdf.close()
    if problems and len(problems) == len(texts):
        raise UnreadableDocument(DAMAGED)
    return texts, words, problems


def layout(words: list[list[Word]], page_starts: list[int]) -> TextLayout:
    """The document's layout from each page's words and the offset where each page's text starts."""
    rows = []
    line_base = 0
    for number, (page_words, offset) in enumerate(zip(words, page_starts, strict=True), 1):
        for start, end, line, box in page_words:
            rows.append((offset + start, offset + end, number, line_base + line, box))
        line_base += (page_words[-1][2] + 1) if page_words else 0
    return TextLayout.from_words(rows)


def _read_page(page: object) -> tuple[str, list[Word]]:
    import pypdfium2.raw as raw

    textpage = page.get_textpage()
    try:
        count = raw.FPDFText_CountChars(textpage)
        codes = [raw.FPDFText_GetUnicode(textpage, i) for i in range(count)]
        text, raw_index = _page_text(codes)
        transform = _display_transform(page)
        newlines = [m.start() for m in re.finditer("\n", text)]
        rect = raw.FS_RECTF()
        spans, corners = [], []  # corners: left, top of the first character, right, bottom of the last
        for match in _WORD.finditer(text):
            raw.FPDFText_GetLooseCharBox(textpage, raw_index[match.start()], rect)
            left, top = rect.left, rect.top
            raw.FPDFText_GetLooseCharBox(textpage, raw_index[match.end() - 1], rect)
            spans.append((match.start(), match.end()))
            corners.append((left, top, rect.right, rect.bottom))
        found = [(start, end, bisect.bisect_left(newlines, start), box)
                 for (start, end), box in zip(spans, _displayed(transform, corners), strict=True)]
        return text, found
    finally:
        textpage.close()
        page.close()


def _displayed(transform: np.ndarray, corners: list[tuple[float, float, float, float]]
               ) -> list[tuple[float, float, float, float]]:
    """Boxes in page points (left, top, right, bottom) -> (x0, y0, x1, y1) in fractions of the displayed page."""
    if not corners:
        return []
    points = np.asarray(corners, dtype=np.float64)
    ones = np.ones(len(points))
    a = transform @ np.stack([points[:, 0], points[:, 1], ones])  # one corner, then the opposite one
    b = transform @ np.stack([points[:, 2], points[:, 3], ones])
    boxes = np.stack([np.minimum(a[0], b[0]), np.minimum(a[1], b[1]), np.maximum(a[0], b[0]), np.maximum(a[1], b[1])])
    return [tuple(row) for row in boxes.T.tolist()]


def _page_text(codes: list[int]) -> tuple[str, list[int]]:
    """The page's text with ``\\r\\n`` written ``\\n``, and the character index behind each character of it."""
    chars, raw_index = [], []
    for i, code in enumerate(codes):
        if code == 0x0D and i + 1 < len(codes) and codes[i + 1] == 0x0A:
            continue  # the \n that follows stands for both
        char = _REPLACE.get(code) or (chr(code) if code <= 0x10FFFF else "\ufffd")
        if char != "\n" and (char.isspace() or not char.isprintable()):
            char = " "
        chars.append(char)
        raw_index.append(i)
    return "".join(chars), raw_index


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
