"""PDF: the text layer page by page, with the offset where each page starts and where each word lies on its page;
scanned pages by OCR.

The text and the word boxes come from one parse by pypdfium2 (PDFium, the PDF engine of Chromium: a well-kept
wheel with nothing to compile): the text is built character by character from PDFium's own character list, so
every offset in the document text names the glyph whose box is recorded (``qa.ingest.layout``), and the viewer
boxes a passage with no second parse. pypdf (pure Python) still opens the file first: it tells an encrypted or
damaged file apart with a precise message, and reads the metadata. A page whose words leave column gaps (a table)
is read again by pypdf in layout mode and its tables read row by row with their header (that page then has no word
boxes). Pages without a text layer (scans) are recognised by Tesseract (``ocr``): the
document's ``notes`` say which pages and with what confidence, the recognised words' boxes join the layout, and a
page recognised with low confidence is reported and left out. Without Tesseract the scanned pages are reported
with the command that installs it, and the rest of the PDF is read.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import numpy as np
import pypdf
import pypdfium2
from pypdf.errors import DependencyError, PyPdfError

from qa.errors import UnreadableDocument
from qa.ingest.readers import ocr, pdf_text
from qa.ingest.readers.base import (
    READ_DEFAULTS,
    Problem,
    ReadOptions,
    ReadResult,
    clean_title,
    first_line,
    iso_date,
    quiet,
)
from qa.ingest.readers.tables import rows_from_layout
from qa.records import Document

_PAGE_BREAK = "\n\n"
_DAMAGED = pdf_text.DAMAGED
# what pypdf raises on damaged input besides its own errors
_PARSE_ERRORS = (
    PyPdfError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    AssertionError,
    OSError,
)


def read_pdf(path: Path, rel: str, data: bytes, options: ReadOptions = READ_DEFAULTS) -> ReadResult:
    with quiet("pypdf"):
        reader = _open(data)
        texts, words, problems = pdf_text.page_texts(data, rel)
        _read_tables(reader, texts, words)
        title = clean_title(_info(reader, "title"))
        author = clean_title(_info(reader, "author"))
        created = _info(reader, "creation_date")
    scanned = [number for number, page_text in enumerate(texts, 1) if not page_text.strip()]
    recognised, notes, ocr_problems = _recognise(data, scanned, len(texts), options, rel) if scanned else ({}, (), [])
    for number, page in recognised.items():
        texts[number - 1] = page.text
        words[number - 1] = pdf_text.page_words(page.text, [(start, end) for start, end, *_ in page.words],
                                                np.array([box for _, _, *box in page.words], dtype=np.float64))
    pages = []
    offset = 0
    for page_text in texts:
        pages.append(offset)
        offset += len(page_text) + len(_PAGE_BREAK)
    text = _PAGE_BREAK.join(texts)
    if not text.strip():
        reason = ocr_problems[0].reason if ocr_problems else "OCR found no text on them either: re-scan it or remove it"
        raise UnreadableDocument(f"PDF has no text layer ({len(texts)} page(s) of images, probably scanned): {reason}")
    document = Document(
        doc_id=rel,
        path=rel,
        text=text,
        title=title or first_line(text),
        publisher=author,
        date=iso_date(created) if isinstance(created, dt.date) else None,
        pages=tuple(pages),
        notes=notes,
    )
    return ReadResult((document,), tuple(problems + ocr_problems), layouts={rel: pdf_text.layout(words, pages)})


def _read_tables(reader: pypdf.PdfReader, texts: list[str], words: list[pdf_text.PageWords]) -> None:
    """Pages whose words leave column gaps (a table: the text layer joins its cells with single spaces), read again
    by pypdf in layout mode so that each row is read with its header (``tables.rows_from_layout``); such a page
    keeps no word boxes."""
    for index, page_words in enumerate(words):
        if not pdf_text.has_column_gaps(page_words):
            continue
        try:
            rows = rows_from_layout(reader.pages[index].extract_text(extraction_mode="layout"))
        except _PARSE_ERRORS + (RecursionError,):
            rows = None
        if rows:
            texts[index], words[index] = rows, pdf_text.NO_WORDS


def _recognise(data: bytes, scanned: list[int], page_count: int, options: ReadOptions, rel: str
               ) -> tuple[dict[int, ocr.OcrPage], tuple[str, ...], list[Problem]]:
    """OCR the scanned pages: the pages kept, the note saying how, and a problem for each page left out."""
    which = f"page(s) {page_ranges(scanned)} of {page_count} have no text layer (scanned)"
    if reason := ocr.missing_reason(options.ocr_languages):
        return {}, (), [Problem(rel, f"{which} and are left out: {reason}")]
    try:
        with quiet("pypdfium2"):
            pdf = pypdfium2.PdfDocument(data)
            try:
                pages = ocr.recognise_pages(pdf, scanned, options.ocr_languages)
            finally:
                pdf.close()
    except (pypdfium2.PdfiumError, RuntimeError, OSError) as exc:  # RuntimeError: Tesseract's timeout or crash
        return {}, (), [Problem(rel, f"{which}, and OCR failed ({exc}): re-scan or re-export it")]
    kept = {page.number: page for page in pages if page.confidence >= ocr.LOW_CONFIDENCE and page.text}
    problems = [
        Problem(rel, f"page {page.number}: OCR confidence {page.confidence:.0f} is under {ocr.LOW_CONFIDENCE}, so its "
                     "text is left out (a poor scan, or no text): re-scan it at 300 dpi")
        for page in pages if page.number not in kept and page.text]
    if not kept:
        return {}, (), problems
    confidence = sum(page.confidence * len(page.text) for page in kept.values()) / sum(
        len(page.text) for page in kept.values())
    note = (f"OCR (Tesseract {ocr.tesseract_version()}, {options.ocr_languages}) of page(s) {page_ranges(list(kept))} "
            f"of {page_count}, confidence {confidence:.0f}")
    return kept, (note,), problems


def page_ranges(numbers: list[int]) -> str:
    """``[1, 2, 3, 5]`` -> ``"1-3, 5"``.

    >>> page_ranges([1, 2, 3, 5, 7, 8])
    '1-3, 5, 7-8'
    """
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return ", ".join(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]) for run in runs)


def _open(data: bytes) -> pypdf.PdfReader:
    fix = "open it and save an unencrypted copy"
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and reader.decrypt("") == pypdf.PasswordType.NOT_DECRYPTED:
            raise UnreadableDocument(f"PDF is encrypted with a password: {fix}")
        if not reader.pages:
            raise UnreadableDocument("PDF has no pages: re-export it or remove it")
    except DependencyError:
        raise UnreadableDocument(f"PDF is encrypted with AES, which needs the 'cryptography' package: {fix}") from None
    except _PARSE_ERRORS:
        raise UnreadableDocument(_DAMAGED) from None
    return reader


def _info(reader: pypdf.PdfReader, name: str) -> object:
    """One document-info field (``title``, ``author``, ``creation_date``); a damaged one is left out."""
    try:
        return getattr(reader.metadata, name, None)
    except _PARSE_ERRORS:
        return None
