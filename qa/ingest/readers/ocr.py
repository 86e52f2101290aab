"""OCR of scanned PDF pages with Tesseract: page by page, in parallel over the cores, each word kept with its box.

pytesseract runs Debian's ``tesseract`` command and hands back every word with its box and confidence
(``image_to_data``), which is what the index needs: text with offsets, a box per word for the viewer and a confidence
to flag bad pages. OCRmyPDF would write a new PDF with a text layer that we would then parse again, losing the
confidences, and it pulls in Ghostscript; pytesseract is one small pure-Python package. Pages are rendered by
pypdfium2 (PDFium, Chrome's PDF engine, as a wheel with no system dependency).

Bounds: a page is rendered at ``dpi`` but never above ``MAX_PIXELS`` (a hostile 200-inch page is scaled down, not
given 3 GB), one page per worker is in memory at a time, and Tesseract is stopped after ``PAGE_TIMEOUT_S`` a page.
"""

from __future__ import annotations

import functools
import math
import os
import shutil
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

DPI = 300  # what Tesseract is trained for; 150 dpi loses small print (docs/benchmarks.md)
MAX_PIXELS = 40_000_000  # an A4 page at 300 dpi is 8.7 million
PAGE_TIMEOUT_S = 120
LOW_CONFIDENCE = 50  # mean word confidence (0-100) under which a page's text is left out and the page flagged
_POINTS_PER_INCH = 72
# PDFium is not thread-safe: pages are rendered one at a time, recognised in parallel (Tesseract is a process).
_PDFIUM = threading.Lock()


@dataclass(frozen=True)
class OcrPage:
    """One recognised page: its text, ``(start, end, x0, top, x1, bottom)`` per word (offsets into ``text``, box in
    fractions of the page as displayed, origin top left: the image PDFium rendered) and the mean word confidence
    (0-100, weighted by word length)."""

    number: int  # 1-based
    text: str
    words: tuple[tuple[int, int, float, float, float, float], ...]
    confidence: float


def install_hint(languages: str) -> str:
    """The exact command that installs Tesseract with ``languages`` on Debian or Ubuntu.

    >>> install_hint("eng+chi_sim")
    'sudo apt-get install tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim'
    """
    packs = " ".join(f"tesseract-ocr-{lang.lower().replace('_', '-')}" for lang in languages.split("+"))
    return f"sudo apt-get install tesseract-ocr {packs}"


def missing_reason(languages: str) -> str | None:
    """Why scans cannot be read here (no ``tesseract`` command, or a language pack missing), or None."""
    if shutil.which("tesseract") is None:
        return f"Tesseract, which reads scans, is not installed: install it with `{install_hint(languages)}`"
    missing = [lang for lang in languages.split("+") if lang not in _installed_languages()]
    if missing:
        wanted = "+".join(missing)
        return (f"Tesseract has no {wanted} language data: install it with `{install_hint(wanted)}`"
                " or pass other --ocr-languages")
    return None


@functools.cache
def _installed_languages() -> frozenset[str]:
    import pytesseract

    return frozenset(pytesseract.get_languages(config=""))


def tesseract_version() -> str:
    import pytesseract

    return str(pytesseract.get_tesseract_version()).split()[0]


def recognise_pages(pdf: object, numbers: Sequence[int], languages: str, dpi: int = DPI,
                    workers: int | None = None) -> list[OcrPage]:
    """OCR the 1-based pages ``numbers`` of ``pdf`` (a ``pypdfium2.PdfDocument``), in parallel; in page order."""
    workers = workers or os.cpu_count() or 1
    # subtle: one thread per Tesseract process, or each page's OpenMP threads fight over the cores we fan out to.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    with ThreadPoolExecutor(max_workers=min(workers, len(numbers)) or 1) as pool:
        return list(pool.map(lambda number: _recognise(pdf, number, languages, dpi), numbers))


def _recognise(pdf: object, number: int, languages: str, dpi: int) -> OcrPage:
    import pytesseract

    with _PDFIUM:
        page = pdf[number - 1]  # type: ignore[index]
        width, height = page.get_size()
        scale = min(dpi / _POINTS_PER_INCH, math.sqrt(MAX_PIXELS / max(width * height, 1.0)))
        image = page.render(scale=scale, grayscale=True).to_pil()
    # tessedit_do_invert=0: scans are dark on light; trying each line inverted too costs time and finds nothing.
    data = pytesseract.image_to_data(image, lang=languages, config="-c tessedit_do_invert=0",
                                     output_type=pytesseract.Output.DICT, timeout=PAGE_TIMEOUT_S)
    return _page_text(number, data, image.width, image.height)


def _page_text(number: int, data: dict[str, list], width: int, height: int) -> OcrPage:
    """Tesseract's word table as text: words joined by a space, lines by a newline, paragraphs by a blank line."""
    parts: list[str] = []
    words = []
    weighted = letters = 0.0
    previous: tuple[int, int, int] | None = None
    length = 0
    for i, word in enumerate(data["text"]):
        word = word.strip()
        if not word or float(data["conf"][i]) < 0:
            continue
        line = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
        if previous is not None:
            separator = " " if line == previous else "\n" if line[:2] == previous[:2] else "\n\n"
            parts.append(separator)
            length += len(separator)
        previous = line
        left, top = data["left"][i], data["top"][i]
        box = (left / width, top / height, (left + data["width"][i]) / width, (top + data["height"][i]) / height)
        words.append((length, length + len(word), *box))
        parts.append(word)
        length += len(word)
        weighted += float(data["conf"][i]) * len(word)
        letters += len(word)
    return OcrPage(number, "".join(parts), tuple(words), round(weighted / letters, 1) if letters else 0.0)
