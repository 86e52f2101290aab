"""The document viewer's data: a document of the index with spans marked, and a PDF page rendered with its boxes.

Plain functions of a loaded generation (``IndexData``), behind the chat page's viewer and its ``/document`` and
``/page`` API endpoints alike, returning JSON-ready dicts. Only documents of the index can be opened, by document
id: the file a PDF page is rendered from is the one the index was built from (the manifest's corpus folder and the
document's path), and it must still have the bytes the index read (its sha256 in the manifest), so that the boxes
recorded at index time are the ones on the page. Nothing here takes a path from a request.

Pages are rendered by pypdfium2 (PDFium, the engine that read the text: same page geometry), as PNG data URLs in a
``"image"`` key (no ``"path"`` key anywhere: gradio_client would take the dict for a file to download).
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import io
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.errors import QAError
from qa.index.store import IndexData
from qa.ingest.layout import Box
from qa.records import Document
from qa.search.searcher import Searcher

PAGE_WIDTH_PX = 900  # a page image's width; its height follows the page
KINDS = ("passage", "answer")
_COLOURS = {"passage": ((255, 214, 0, 70), (214, 160, 0, 255), 1), "answer": ((255, 80, 0, 40), (220, 38, 38, 255), 3)}


class ViewError(QAError):
    """A document or page that cannot be shown as asked (unknown id, span or page; file changed since indexing)."""


@dataclass(frozen=True)
class Span:
    """A range of a document's text to mark: ``kind`` is ``passage`` (shaded) or ``answer`` (the sentence)."""

    start: int
    end: int
    kind: str = "passage"


def find_document(data: IndexData, doc_id: Any) -> Document:
    """The document ``doc_id`` names in ``data``; ViewError naming the fix when there is none."""
    return data.documents[document_row(data, doc_id)]


def document_row(data: IndexData, doc_id: Any) -> int:
    if not isinstance(doc_id, str) or not doc_id:
        raise ViewError("no document id given: pass the doc_id of a passage or answer (e.g. from /ask)")
    ids = [d.doc_id for d in data.documents]  # sorted by id in every generation a build writes
    row = bisect.bisect_left(ids, doc_id)
    if row < len(ids) and ids[row] == doc_id:
        return row
    if doc_id in ids:
        return ids.index(doc_id)
    raise ViewError(f"no document {doc_id!r} in the index: use the doc_id of a passage or answer (e.g. from /ask)")


def matched_passages(searcher: Searcher, question: str, doc_id: str, shown: tuple[int, int]) -> list[tuple[int, int]]:
    """The passages of ``doc_id`` that ``question`` matched, in document order: its chunks holding a word of the
    question (BM25 above 0), and always ``shown``, the one the answer showed (chosen by meaning, it may hold none)."""
    data = searcher.data
    row = document_row(data, doc_id)
    lo, hi = (int(i) for i in np.searchsorted(data.chunks.doc, [row, row + 1]))
    scores = searcher.lexical.scores(question)[lo:hi]
    starts, ends = data.chunks.start[lo:hi], data.chunks.end[lo:hi]
    found = {(int(s), int(e)) for s, e, score in zip(starts, ends, scores, strict=True) if score > 0}
    return sorted(found | {(int(shown[0]), int(shown[1]))})


def check_spans(doc: Document, spans: list[Span]) -> list[Span]:
    for span in spans:
        if span.kind not in KINDS:
            raise ViewError(f"span kind {span.kind!r} is unknown: use one of {', '.join(KINDS)}")
        if not 0 <= span.start < span.end <= len(doc.text):
            raise ViewError(f"span {span.start}-{span.end} is outside {doc.doc_id!r} (0-{len(doc.text)}): "
                            "use the start and end of a passage or answer of this document")
    return spans


def spans_from(start: Any = None, end: Any = None, answer_start: Any = None, answer_end: Any = None) -> list[Span]:
    """The spans an API call names: a passage ``start``-``end`` and an answer sentence, each optional."""
    spans = []
    for kind, lo, hi in (("passage", start, end), ("answer", answer_start, answer_end)):
        if lo is None and hi is None:
            continue
        try:
            spans.append(Span(int(lo), int(hi), kind))
        except (TypeError, ValueError):
            raise ViewError(f"the {kind} span needs a whole-number start and end, not {lo!r} and {hi!r}") from None
    return spans


def document_view(data: IndexData, doc_id: Any, spans: list[Span] = ()) -> dict[str, Any]:
    """The document as indexed (its text, headings, pages) with each span, its page and, for a PDF, its boxes."""
    doc = find_document(data, doc_id)
    layout = data.layouts.get(doc.doc_id)
    marked = []
    for span in check_spans(doc, list(spans)):
        boxes = layout.boxes(span.start, span.end) if layout is not None else []
        marked.append({**asdict(span), "text": doc.text[span.start:span.end], "page": doc.page_at(span.start),
                       "boxes": [box.to_dict() for box in boxes]})
    return {"doc_id": doc.doc_id, "file": doc.path, "title": doc.title, "source": doc.source,
            "kind": "pdf" if doc.pages else "text", "boxed": layout is not None, "text": doc.text,
            "sections": [{"start": start, "heading": heading} for start, heading in doc.sections],
            "pages": list(doc.pages), "spans": marked, "generation": data.generation}


def page_view(data: IndexData, doc_id: Any, page: Any, spans: list[Span] = (), *, draw: bool = True,
              width_px: int = PAGE_WIDTH_PX) -> dict[str, Any]:
    """Page ``page`` (1-based) of a PDF of the index as a PNG data URL, with the spans' boxes on that page
    (drawn on the image unless ``draw`` is False, and listed in fractions of the page either way)."""
    doc = find_document(data, doc_id)
    if not doc.pages:
        raise ViewError(f"{doc.doc_id!r} has no pages (it is not a PDF): open it with /document")
    try:
        page = int(page)
    except (TypeError, ValueError):
        raise ViewError(f"page {page!r} is not a page number: pass 1 to {len(doc.pages)}") from None
    if not 1 <= page <= len(doc.pages):
        raise ViewError(f"page {page} is outside {doc.doc_id!r}: pass 1 to {len(doc.pages)}")
    layout = data.layouts.get(doc.doc_id)
    boxes = [(span.kind, box) for span in check_spans(doc, list(spans))
             for box in (layout.boxes(span.start, span.end) if layout is not None else []) if box.page == page]
    image = _render(_indexed_file(data, doc), page, width_px)
    if draw:
        _draw(image, boxes)
    buffer = io.BytesIO()
    # subtle: zlib level 1 is both faster (0.09 s against 0.21 s for a text page) and smaller here than the default
    image.convert("RGB").save(buffer, format="PNG", compress_level=1)
    return {"doc_id": doc.doc_id, "page": page, "pages": len(doc.pages), "width": image.width,
            "height": image.height, "boxed": layout is not None,
            "boxes": [{"kind": kind, **box.to_dict()} for kind, box in boxes],
            "image": "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")}


def _indexed_file(data: IndexData, doc: Document) -> Path:
    """The file the index read ``doc`` from, with the same bytes; ViewError with the fix otherwise."""
    corpus = Path(data.manifest.corpus or "")
    path = corpus if corpus.is_file() else corpus / doc.path
    expected = data.manifest.file_sha256.get(doc.path)
    try:
        if not corpus.is_file() and not path.resolve().is_relative_to(corpus.resolve()):
            raise ViewError(f"{doc.path!r} is not inside the corpus folder {corpus}: rebuild with `qa index`")
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise ViewError(f"cannot read {path} ({exc.strerror or exc}), the file {doc.doc_id!r} was indexed from: "
                        "put it back or run `qa index`") from None
    if actual != expected:
        raise ViewError(f"{path} has changed since it was indexed: run `qa index` (or Rebuild index), then open "
                        "it again")
    return path


def _render(path: Path, page: int, width_px: int) -> Any:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(path, password="")
    except pdfium.PdfiumError as exc:
        raise ViewError(f"cannot render {path} ({exc}): run `qa index` again") from None
    try:
        handle = pdf[page - 1]
        # the width as displayed (PDFium swaps width and height of a page turned by 90 or 270 degrees)
        return handle.render(scale=width_px / handle.get_width()).to_pil().convert("RGBA")
    finally:
        pdf.close()


def _draw(image: Any, boxes: list[tuple[str, Box]]) -> None:
    """The passage's boxes shaded, the answer sentence's outlined, on ``image`` (RGBA) in place."""
    from PIL import Image, ImageDraw

    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    pen = ImageDraw.Draw(overlay)
    for kind in KINDS:  # the answer last, over the passage
        fill, outline, width = _COLOURS[kind]
        for box_kind, box in boxes:
            if box_kind == kind:
                pen.rectangle([box.x0 * image.width - 2, box.y0 * image.height - 1, box.x1 * image.width + 2,
                               box.y1 * image.height + 1], fill=fill, outline=outline, width=width)
    image.alpha_composite(overlay)
