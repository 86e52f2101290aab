"""Character offsets to boxes on PDF pages: each line boxed where the writer drew it and the renderer inks it,
in one and two columns, on pages turned by /Rotate, across a page break; stored in the generation and reused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from reportlab.lib.pagesizes import letter

from qa.index import layouts, store
from qa.index.build import build_index
from qa.ingest.layout import Box
from qa.ingest.readers import read_document
from qa.records import Document
from tests.pdfs import SIZE, Line, column, lines_of, write_pdf

WIDTH, HEIGHT = letter
POINT = 1.0  # how far (points) a box edge may lie from the writer's


def read(data: bytes) -> tuple[Document, object]:
    result = read_document(Path("a.pdf"), "a.pdf", data)
    return result.documents[0], result.layouts["a.pdf"]


def span_of(doc: Document, line: Line) -> tuple[int, int]:
    start = doc.text.index(line.text)
    return start, start + len(line.text)


def assert_drawn_at(box: Box, line: Line) -> None:
    """The box runs from the line's first to its last glyph and holds its baseline (an upright Letter page)."""
    assert box.page == line.page
    assert box.x0 * WIDTH == pytest.approx(line.x, abs=POINT)
    assert box.x1 * WIDTH == pytest.approx(line.x + line.width, abs=POINT)
    baseline = 1 - line.y / HEIGHT
    assert box.y0 < baseline < box.y1
    assert (box.y1 - box.y0) * HEIGHT < 1.5 * SIZE


def test_each_line_is_boxed_where_the_writer_drew_it() -> None:
    pages = [column(72, ["Apples grow in orchards.", "Pears grow in the north.", "Plums ripen in August."])]
    doc, layout = read(write_pdf(pages))
    for line in lines_of(pages):
        (box,) = layout.boxes(*span_of(doc, line))
        assert_drawn_at(box, line)


def test_a_sentence_over_two_lines_has_a_box_per_line() -> None:
    pages = [column(72, ["The orchard keeps forty apple", "trees. Another sentence here."])]
    doc, layout = read(write_pdf(pages))
    start = doc.text.index("The orchard")
    boxes = layout.boxes(start, doc.text.index("trees.") + len("trees."))
    assert len(boxes) == 2
    assert_drawn_at(boxes[0], lines_of(pages)[0])
    assert boxes[1].x0 * WIDTH == pytest.approx(72, abs=POINT)  # "trees." only, not the sentence after it
    assert boxes[1].x1 < boxes[0].x1 / 2


def test_two_columns_each_sentence_stays_in_its_column() -> None:
    left = column(72, ["Left column apples grow.", "Left column pears grow."])
    right = column(330, ["Right column plums ripen.", "Right column figs ripen."])
    pages = [left + right]
    doc, layout = read(write_pdf(pages))
    for line in lines_of(pages):
        (box,) = layout.boxes(*span_of(doc, line))
        assert_drawn_at(box, line)
        assert (box.x1 * WIDTH < 330) == (line.x == 72)


def test_a_passage_across_a_page_break_is_boxed_on_both_pages() -> None:
    pages = [column(72, ["First page text.", "The passage starts here and"]),
             column(72, ["ends on the next page.", "Unrelated text."])]
    doc, layout = read(write_pdf(pages))
    start = doc.text.index("The passage")
    end = doc.text.index("next page.") + len("next page.")
    assert doc.page_at(start) == 1 and doc.page_at(end - 1) == 2
    boxes = layout.boxes(start, end)
    assert [b.page for b in boxes] == [1, 2]
    lines = lines_of(pages)
    assert_drawn_at(boxes[0], lines[1])
    assert_drawn_at(boxes[1], lines[2])
    assert layout.pages(start, end) == [1, 2]


def ink_box(data: bytes, page: int = 1) -> tuple[float, float, float, float]:
    """Where the renderer inks the page (it applies /Rotate), in fractions of the displayed page."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    image = np.asarray(pdf[page - 1].render(scale=2).to_pil().convert("L"))
    pdf.close()
    rows, cols = np.nonzero(image < 160)
    height, width = image.shape
    return cols.min() / width, rows.min() / height, (cols.max() + 1) / width, (rows.max() + 1) / height


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_rotated_pages_are_boxed_where_the_page_is_drawn(rotation: int) -> None:
    data = write_pdf([column(72, ["Rotated pages keep their boxes."], top=400)], rotation=rotation)
    doc, layout = read(data)
    (box,) = layout.boxes(0, len(doc.text))
    ink = ink_box(data)
    slack = 2 / min(WIDTH, HEIGHT)  # two points, in fractions of the page
    assert box.x0 <= ink[0] + slack and box.y0 <= ink[1] + slack
    assert box.x1 >= ink[2] - slack and box.y1 >= ink[3] - slack
    along = (box.x1 - box.x0) if rotation in (0, 180) else (box.y1 - box.y0)  # the loose box adds no length
    assert along == pytest.approx((ink[2] - ink[0]) if rotation in (0, 180) else (ink[3] - ink[1]), abs=4 * slack)


def test_a_span_inside_a_word_boxes_the_whole_word_and_an_empty_span_nothing() -> None:
    pages = [column(72, ["Apples grow in orchards."])]
    doc, layout = read(write_pdf(pages))
    (box,) = layout.boxes(1, 3)
    (whole,) = layout.boxes(0, 6)
    assert box == whole
    assert layout.boxes(3, 3) == []
    assert layout.boxes(len(doc.text), len(doc.text) + 5) == []


def test_the_generation_stores_the_boxes_checksummed_and_a_rebuild_reuses_them(tmp_path: Path, embedder) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    pages = [column(72, [f"Line {i} of the apple report." for i in range(40)]),
             column(72, ["The second page about pears."])]
    (corpus / "report.pdf").write_bytes(write_pdf(pages))
    (corpus / "notes.txt").write_text("Notes about plums.\n")
    build_index(corpus, index, embedder, progress=False)
    data = store.load(index)
    assert layouts.FILE in data.manifest.files
    assert set(data.layouts) == {"report.pdf"}
    pdf_row = [d.doc_id for d in data.documents].index("report.pdf")
    for row in np.flatnonzero(data.chunks.doc == pdf_row):
        chunk = data.chunk(int(row))
        assert {b.page for b in data.layouts["report.pdf"].boxes(chunk.start, chunk.end)} >= {chunk.page}

    (corpus / "more.txt").write_text("More about figs.\n")
    report = build_index(corpus, index, embedder, progress=False)
    assert report.added == ("more.txt",)
    again = store.load(index)
    assert np.array_equal(again.layouts["report.pdf"].box, data.layouts["report.pdf"].box)


def test_a_previous_generation_without_boxes_has_its_pdfs_read_again(tmp_path: Path, embedder) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "report.pdf").write_bytes(write_pdf([column(72, ["Apples grow in orchards."])]))
    build_index(corpus, index, embedder, progress=False)
    gen = store.load(index).path
    # what an older qa wrote: the same generation, no layouts file (and none in the manifest)
    import json

    (gen / layouts.FILE).unlink()
    manifest = json.loads((gen / "manifest.json").read_text())
    del manifest["files"][layouts.FILE]
    (gen / "manifest.json").write_text(json.dumps(manifest))
    assert store.load(index).layouts == {}
    build_index(corpus, index, embedder, progress=False)
    assert set(store.load(index).layouts) == {"report.pdf"}
