"""PowerPoint ``.pptx``: each slide's text, tables (rows with their header) and speaker notes, in slide order.

python-pptx is the maintained reader of the Office Open XML presentation format. Each slide starts with a heading
line, ``"Slide 3: Title"``, a section of its own, and is a page of the document (``pages``), so a passage's
location is its slide number and title. Presentation properties give the title (else the first slide's title),
the author as publisher and the creation date.
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
    ReadOptions,
    ReadResult,
    clean_title,
    iso_date,
    quiet,
    require_text,
)
from qa.ingest.readers.tables import keyed_rows
from qa.records import Document

_KIND = "PowerPoint .pptx"
_DAMAGED = ("not a valid PowerPoint .pptx file (damaged, or another format renamed; old .ppt files are not read): "
            "re-save it as .pptx or remove it")


def read_pptx(path: Path, rel: str, data: bytes, options: ReadOptions = READ_DEFAULTS) -> ReadResult:
    import pptx
    from pptx.exc import PythonPptxError

    check_zip(data, _KIND, "re-save it as .pptx or remove it")
    try:
        with quiet("pptx"):
            deck = pptx.Presentation(io.BytesIO(data))
            slides = [_slide_text(number, slide) for number, slide in enumerate(deck.slides, 1)]
            properties = deck.core_properties
            title, author, created = properties.title, properties.author, properties.created
    except (PythonPptxError, KeyError, ValueError, TypeError, IndexError, AttributeError, zipfile.BadZipFile,
            zlib.error, EOFError, SyntaxError):
        raise UnreadableDocument(_DAMAGED) from None
    pages, sections, offset = [], [], 0
    for heading, body in slides:
        pages.append(offset)
        sections.append((offset, heading))
        offset += len(heading) + 1 + len(body) + 2
    first_title = next((h.split(": ", 1)[1] for h, _ in slides if ": " in h), None)
    require_text((first_title or "") + "".join(body for _, body in slides), "the slides have no text")
    text = "\n\n".join(f"{heading}\n{body}" for heading, body in slides)
    document = Document(doc_id=rel, path=rel, text=text, title=clean_title(title) or first_title or path.stem,
                        publisher=clean_title(author), date=iso_date(created), pages=tuple(pages),
                        sections=tuple(sections))
    return ReadResult((document,))


def _slide_text(number: int, slide: object) -> tuple[str, str]:
    """``("Slide N: title", body)``: text frames and tables in shape order, then the speaker notes."""
    title_shape = slide.shapes.title  # type: ignore[attr-defined]
    title = clean_title(title_shape.text_frame.text) if title_shape is not None and title_shape.has_text_frame else None
    blocks = []
    for shape in slide.shapes:  # type: ignore[attr-defined]
        if title_shape is not None and shape.shape_id == title_shape.shape_id:  # shapes are new proxies each time
            continue
        if shape.has_text_frame and shape.text_frame.text.strip():
            blocks.append(shape.text_frame.text.replace("\x0b", "\n").strip())
        elif getattr(shape, "has_table", False) and shape.has_table:
            rows = [[" ".join(cell.text.split()) for cell in row.cells] for row in shape.table.rows]
            blocks.append("\n".join(keyed_rows(rows)))
    if slide.has_notes_slide and (notes := slide.notes_slide.notes_text_frame.text.strip()):  # type: ignore[attr-defined]
        blocks.append(f"Notes: {notes}")
    heading = f"Slide {number}: {title}" if title else f"Slide {number}"
    return heading, "\n".join(block for block in blocks if block)
