"""Scanned PDFs: recognised by Tesseract with word boxes and a note; mixed PDFs; no Tesseract; low confidence.

The scans are made here (bench.common.make_scan: text typeset by Pillow, skewed, speckled, saved as an image-only
PDF), one page at 150 dpi where accuracy is not the point, so that the few OCR runs stay fast.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pypdf
import pytest

from bench.common import char_accuracy, make_scan
from qa.assistant import Assistant
from qa.errors import SettingsError, UnreadableDocument
from qa.index import store
from qa.index.build import build_index
from qa.ingest.readers import ReadOptions, ReadResult, ocr, read_document
from qa.records import Document
from qa.settings import Settings
from tests.test_readers import check_invariants, make_pdf

needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None, reason="needs Debian's tesseract-ocr")

SCANNED = ("Kharkiv's power grid was hit again on Tuesday. Engineers said repairs to the substation "
           "would take three weeks, and the city ran generators for its hospitals.")


def mixed_pdf() -> bytes:
    """Page 1 has a text layer, page 2 is a scan."""
    writer = pypdf.PdfWriter()
    for data in (make_pdf([["The Danube flows into the Black Sea."]]), make_scan([SCANNED], noise=0.002)):
        for page in pypdf.PdfReader(io.BytesIO(data)).pages:
            writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.fixture(scope="module")
def mixed() -> bytes:
    return mixed_pdf()


@pytest.fixture(scope="module")
def mixed_result(mixed: bytes) -> ReadResult:
    return read_document(Path("mixed.pdf"), "mixed.pdf", mixed)


@pytest.fixture(scope="module")
def mixed_read(mixed_result: ReadResult) -> tuple[Document, tuple]:
    return mixed_result.documents[0], mixed_result.problems


@needs_tesseract
def test_only_the_scanned_page_is_recognised_with_a_note(mixed_read: tuple[Document, tuple]) -> None:
    doc, problems = mixed_read
    check_invariants(doc)
    assert problems == ()
    assert doc.text.startswith("The Danube flows into the Black Sea.") and len(doc.pages) == 2
    assert doc.notes[0].startswith("OCR (Tesseract ") and "eng) of page(s) 2 of 2, confidence" in doc.notes[0]
    scanned = doc.text[doc.pages[1]:]
    assert char_accuracy(SCANNED, scanned) > 0.9, scanned


@needs_tesseract
def test_every_word_box_points_at_its_word_on_its_page(mixed_result: ReadResult) -> None:
    doc, layout = mixed_result.documents[0], mixed_result.layouts["mixed.pdf"]
    scanned = layout.page == 2
    assert scanned.sum() >= 20 and (layout.page == 1).sum() == 7  # the text layer's words, then OCR's
    for start, end, page in zip(layout.start[scanned], layout.end[scanned], layout.page[scanned], strict=True):
        word = doc.text[start:end]
        assert word and not any(c.isspace() for c in word) and page == 2 == doc.page_at(int(start))
    first_line = layout.line[scanned][0]
    words = [doc.text[s:e] for s, e in zip(layout.start[scanned & (layout.line == first_line)],
                                           layout.end[scanned & (layout.line == first_line)], strict=True)]
    assert "Kharkiv's" in words[0] and words[1:3] == ["power", "grid"], words
    (box,) = layout.boxes(doc.text.index("power grid"), doc.text.index("power grid") + len("power grid"))
    assert box.page == 2 and 0 < box.x0 < box.x1 < 1 and 0 < box.y0 < box.y1 < 0.5  # fractions, near the top


@needs_tesseract
def test_a_question_about_the_scanned_page_is_answered_from_that_page(mixed: bytes, tmp_path: Path,
                                                                      embedder) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "mixed.pdf").write_bytes(mixed)
    (corpus / "rivers.txt").write_text("Rivers\nThe Rhine flows into the North Sea.\n")
    build_index(corpus, tmp_path / "index", embedder, progress=False)
    result = Assistant.load(tmp_path / "index", embedder=embedder).ask("How long will the substation repairs take?")
    answer = result.answer
    assert answer is not None and answer.path == "mixed.pdf" and "repairs" in answer.text
    (doc,) = [d for d in store.load(tmp_path / "index").documents if d.path == "mixed.pdf"]
    assert doc.page_at(answer.start) == 2 and doc.text[answer.start:answer.end] == answer.text


def test_without_tesseract_the_scan_is_listed_with_the_install_command(mixed: bytes,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ocr.shutil, "which", lambda name: None)
    result = read_document(Path("mixed.pdf"), "mixed.pdf", mixed)
    assert result.documents[0].text.strip() == "The Danube flows into the Black Sea." and not result.documents[0].notes
    (problem,) = result.problems
    assert "page(s) 2 of 2 have no text layer (scanned) and are left out" in problem.reason
    assert "`sudo apt-get install tesseract-ocr tesseract-ocr-eng`" in problem.reason
    with pytest.raises(UnreadableDocument, match="no text layer .* install it with `sudo apt-get install tesseract"):
        read_document(Path("scan.pdf"), "scan.pdf", make_scan(["Short."]))


@needs_tesseract
def test_a_missing_language_pack_names_its_debian_package(mixed: bytes) -> None:
    result = read_document(Path("m.pdf"), "m.pdf", mixed, ReadOptions(ocr_languages="eng+xyz"))
    assert "no xyz language data: install it with `sudo apt-get install tesseract-ocr tesseract-ocr-xyz`" in (
        result.problems[0].reason)
    with pytest.raises(SettingsError, match="not Tesseract language names"):
        Settings(ocr_languages="eng; rm -rf /")


@needs_tesseract
def test_a_low_confidence_page_is_flagged_and_left_out(mixed: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ocr, "LOW_CONFIDENCE", 101)  # no page can reach it
    result = read_document(Path("mixed.pdf"), "mixed.pdf", mixed)
    assert result.documents[0].text.strip() == "The Danube flows into the Black Sea."
    (problem,) = result.problems
    assert problem.reason.startswith("page 2: OCR confidence ") and "text is left out" in problem.reason


def test_qa_index_refuses_ocr_languages_that_are_not_language_names(tmp_path: Path, capsys) -> None:
    from qa.serve.cli import main

    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "a.txt").write_text("Apples grow on trees.")
    assert main(["index", "--corpus", str(tmp_path / "corpus"), "--index", str(tmp_path / "index"),
                 "--ocr-languages", "eng;rm -rf /", "-q"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "OCR languages 'eng;rm -rf /' are not Tesseract language names" in err
    assert not (tmp_path / "index").exists()
