"""PDFs written in the tests with a real writer (reportlab), each line at a position the test knows."""

from __future__ import annotations

import io
from dataclasses import dataclass

from reportlab.lib.pagesizes import letter
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas

FONT, SIZE = "Helvetica", 11


@dataclass(frozen=True)
class Line:
    """One line as the writer drew it: page (1-based), baseline start in points (PDF space, origin bottom left)."""

    page: int
    x: float
    y: float
    text: str

    @property
    def width(self) -> float:
        return stringWidth(self.text, FONT, SIZE)


def write_pdf(pages: list[list[tuple[float, float, str]]], rotation: int = 0, size: tuple[float, float] = letter,
              title: str = "Layout test", author: str = "qa tests") -> bytes:
    """A PDF with ``(x, y, text)`` lines per page, every page turned by ``rotation`` degrees (its /Rotate)."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=size, pageCompression=0)
    pdf.setTitle(title)
    pdf.setAuthor(author)
    for lines in pages:
        pdf.setPageRotation(rotation)
        pdf.setFont(FONT, SIZE)
        for x, y, text in lines:
            pdf.drawString(x, y, text)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def lines_of(pages: list[list[tuple[float, float, str]]]) -> list[Line]:
    return [Line(number, x, y, text) for number, lines in enumerate(pages, 1) for x, y, text in lines]


def column(x: float, texts: list[str], top: float = 720, leading: float = 14) -> list[tuple[float, float, str]]:
    """Lines of a column starting at ``x``, from ``top`` down."""
    return [(x, top - i * leading, text) for i, text in enumerate(texts)]
