"""PDF: the text layer page by page, with the offset where each page starts, via pypdf.

pypdf is pure Python (nothing to compile), actively maintained, and reads encrypted files; its text extraction
is good enough for retrieval. A PDF without a text layer (a scan) is refused with the fix: OCR it first.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pypdf
from pypdf.errors import DependencyError, PyPdfError

from qa.errors import UnreadableDocument
from qa.ingest.readers.base import Problem, ReadResult, clean_title, first_line, iso_date, quiet
from qa.records import Document

_PAGE_BREAK = "\n\n"
_DAMAGED = "not valid PDF (file is damaged or not a PDF): re-export it or remove it"
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
        texts, problems = _page_texts(reader, rel)
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
            "run OCR on it first (e.g. ocrmypdf) and add the OCR'd copy", status="needs OCR"
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
    return ReadResult((document,), tuple(problems))


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


def _page_texts(reader: pypdf.PdfReader, rel: str) -> tuple[list[str], list[Problem]]:
    """One string per page; a page that cannot be read is empty and reported, the rest are kept."""
    texts, problems = [], []
    for number, page in enumerate(reader.pages, 1):
        try:
            texts.append(page.extract_text().replace("\r\n", "\n").replace("\r", "\n"))
        except _PARSE_ERRORS + (RecursionError,) as exc:
            texts.append("")
            problems.append(
                Problem(rel, f"page {number} could not be read ({type(exc).__name__}): its text is left out")
            )
    if problems and len(problems) == len(texts):
        raise UnreadableDocument(_DAMAGED)
    return texts, problems


def _info(reader: pypdf.PdfReader, name: str) -> object:
    """One document-info field (``title``, ``author``, ``creation_date``); a damaged one is left out."""
    try:
        return getattr(reader.metadata, name, None)
    except _PARSE_ERRORS:
        return None
