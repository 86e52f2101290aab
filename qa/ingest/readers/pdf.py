"""PDF: the text layer page by page, with the offset where each page starts and where each word lies on its page.

The text and the word boxes come from one parse by pypdfium2 (PDFium, the PDF engine of Chromium: a well-kept
wheel with nothing to compile): the text is built character by character from PDFium's own character list, so
every offset in the document text names the glyph whose box is recorded (``qa.ingest.layout``), and the viewer
boxes a passage with no second parse. pypdf (pure Python) still opens the file first: it tells an encrypted or
damaged file apart with a precise message, and reads the metadata. A PDF without a text layer (a scan) is refused
with the fix: OCR it first.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pypdf
from pypdf.errors import DependencyError, PyPdfError

from qa.errors import UnreadableDocument
from qa.ingest.readers import pdf_text
from qa.ingest.readers.base import ReadResult, clean_title, first_line, iso_date, quiet
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


def read_pdf(path: Path, rel: str, data: bytes) -> ReadResult:
    with quiet("pypdf"):
        reader = _open(data)
        texts, words, problems = pdf_text.page_texts(data, rel)
        title = clean_title(_info(reader, "title"))
        author = clean_title(_info(reader, "author"))
        created = _info(reader, "creation_date")
    pages = []
    offset = 0
    for text in texts:
        pages.append(offset)
        offset += len(text) + len(_PAGE_BREAK)
    text = _PAGE_BREAK.join(texts)
    if not text.strip():
        raise UnreadableDocument(
            f"PDF has no text layer ({len(texts)} page(s) of images, probably scanned): "
            "run OCR on it first (e.g. ocrmypdf) and add the OCR'd copy"
        )
    document = Document(
        doc_id=rel,
        path=rel,
        text=text,
        title=title or first_line(text),
        publisher=author,
        date=iso_date(created) if isinstance(created, dt.date) else None,
        pages=tuple(pages),
    )
    return ReadResult((document,), tuple(problems), layouts={rel: pdf_text.layout(words, pages)})


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
