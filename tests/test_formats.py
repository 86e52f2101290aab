"""Spreadsheets, CSV/TSV, slides, e-books and mail: read back from files the real writers made, located, and bounded.

Each reader: what it reads and where the location comes from; a question answered from the right row, slide or
chapter through a real index (the fast embedder); each hostile file refused with its reason, quickly.
"""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import pytest

from qa.assistant import Assistant
from qa.errors import UnreadableDocument
from qa.index import store
from qa.index.build import build_index
from qa.ingest.readers import archive, read_document
from qa.ingest.readers.tables import ROWS_PER_BLOCK
from qa.records import Document
from tests import made_files
from tests.test_readers import check_invariants, make_docx


def read(name: str, data: bytes):
    result = read_document(Path(name), name, data)
    for doc in result.documents:
        check_invariants(doc)
    return result


def only(name: str, data: bytes) -> Document:
    result = read(name, data)
    assert len(result.documents) == 1 and result.problems == (), result
    return result.documents[0]


# --- what each reader reads ----------------------------------------------------------------------------------


def test_csv_rows_are_read_with_their_header_and_located_by_row() -> None:
    doc = only("displaced.csv", made_files.CSV)
    assert doc.title == "displaced"
    assert doc.text.splitlines() == ["displaced, rows 2-4", "Country: Syria; Displaced: 6.8 million; Year: 2024",
                                     "Country: Sudan; Displaced: 11 million; Year: 2024",
                                     "Country: Ukraine; Displaced: 3.7 million; Year: 2024"]
    assert doc.sections == ((0, "displaced, rows 2-4"),)


def test_tsv_semicolons_quotes_and_missing_headers() -> None:
    assert only("a.tsv", b"River\tMouth\nDanube\tBlack Sea\n").text == "a, row 2\nRiver: Danube; Mouth: Black Sea"
    quoted = only("b.csv", b'River;Note;\nDanube;"flows\nfar; east";x\n').text
    assert quoted == "b, row 2\nRiver: Danube; Note: flows far; east; column 3: x"


def test_long_tables_are_cut_into_located_blocks() -> None:
    rows = b"".join(f"River {n},Sea {n}\n".encode() for n in range(2, 2 + 2 * ROWS_PER_BLOCK + 3))
    doc = only("rivers.csv", b"River,Sea\n" + rows)
    assert [heading for _, heading in doc.sections] == ["rivers, rows 2-21", "rivers, rows 22-41", "rivers, rows 42-44"]
    start = doc.sections[1][0]
    assert doc.text[start:].splitlines()[1] == "River: River 22; Sea: Sea 22"


def test_xlsx_values_as_shown_never_formulas_each_sheet_located() -> None:
    doc = only("figures.xlsx", made_files.make_xlsx())
    assert (doc.title, doc.publisher) == ("Displacement figures", "Orchard Weekly")
    lines = doc.text.splitlines()
    assert lines[:3] == ["Displacement, rows 2-3",
                         "Country: Syria; Displaced: 6.8 million; Share of population: 31%; Counted on: 2024-11-30",
                         "Country: Sudan; Displaced: 11 million; Share of population: 22%; Counted on: 2024-10-01"]
    assert "=C2" not in doc.text and "Check" not in lines[1]  # the formula has no saved value: nothing is shown
    assert [heading for _, heading in doc.sections] == ["Displacement, rows 2-3", "Rivers, rows 2-21",
                                                        "Rivers, rows 22-31"]


def test_pptx_slides_are_pages_with_titles_tables_and_notes() -> None:
    doc = only("briefing.pptx", made_files.make_pptx())
    assert (doc.title, doc.publisher) == ("Weekly briefing", "Orchard Weekly")
    assert doc.text == ("Slide 1: Grid repairs\nKharkiv's substation was hit on Tuesday.\nRepairs will take three "
                        "weeks.\nNotes: Mention the generators at the hospitals.\n\nSlide 2: Displaced people\n"
                        "Country: Syria; Displaced: 6.8 million\nCountry: Sudan; Displaced: 11 million")
    assert doc.page_at(doc.text.index("Sudan")) == 2 and doc.section_at(doc.text.index("Sudan")).startswith("Slide 2")


def test_epub_chapters_in_reading_order_under_their_titles(tmp_path: Path) -> None:
    doc = only("rivers.epub", made_files.make_epub(tmp_path))
    assert (doc.title, doc.publisher, doc.date) == ("Rivers of Europe", "Orchard Press", "2021-05-01")
    assert [heading for _, heading in doc.sections] == ["The Danube", "The Rhine"]
    assert doc.section_at(doc.text.index("Rotterdam")) == "The Rhine"


def test_eml_subject_sender_date_and_attachment_labelled() -> None:
    result = read("repairs.eml", made_files.make_eml())
    mail, attachment = result.documents
    assert (mail.title, mail.publisher, mail.date) == ("Grid repairs", "Olena Petrenko", "2024-12-03")
    assert mail.text == "The substation repairs will take three weeks.\n"  # the plain part, not the HTML twice
    assert attachment.doc_id == "repairs.eml#attachment/figures.csv" and attachment.path == "repairs.eml"
    assert attachment.title == "figures (attachment of “Grid repairs”)" and "Country: Syria" in attachment.text


def test_eml_html_only_and_a_broken_attachment_is_reported_alone() -> None:
    html_only = made_files.make_mail(attachment=None)
    html_only.clear_content()
    html_only.set_content("<html><body><nav>Menu</nav><p>Only HTML here.</p></body></html>", subtype="html")
    html_only.add_attachment(b"%PDF-1.4 cut", maintype="application", subtype="pdf", filename="report.pdf")
    result = read("html.eml", html_only.as_bytes())
    assert [d.text for d in result.documents] == ["Only HTML here."]
    assert [p.reason for p in result.problems] == [
        "attachment report.pdf: not valid PDF (file is damaged or not a PDF): re-export it or remove it"]


def test_mbox_one_document_per_mail() -> None:
    result = read("inbox.mbox", made_files.make_mbox())
    assert [(d.doc_id, d.title) for d in result.documents] == [("inbox.mbox#1", "Grid repairs"),
                                                               ("inbox.mbox#2", "Harvest")]
    with pytest.raises(UnreadableDocument, match="not an mbox file"):
        read("x.mbox", made_files.make_eml())


# --- answered from the right location --------------------------------------------------------------------------


def test_questions_are_answered_from_the_right_row_slide_chapter_and_mail(tmp_path: Path, embedder) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "figures.xlsx").write_bytes(made_files.make_xlsx())
    (corpus / "briefing.pptx").write_bytes(made_files.make_pptx())
    (corpus / "rivers.epub").write_bytes(made_files.make_epub(tmp_path))
    (corpus / "repairs.eml").write_bytes(made_files.make_eml())
    build_index(corpus, tmp_path / "index", embedder, progress=False)
    assistant = Assistant.load(tmp_path / "index", embedder=embedder)
    documents = {d.doc_id: d for d in store.load(tmp_path / "index").documents}
    for question, doc_id, expected, where in [
        ("Which river has its mouth in the Black Sea?", "figures.xlsx", "River: River 27",
         "Rivers, rows 22-31"),
        ("What share of the population of Sudan was displaced?", "figures.xlsx", "Share of population: 22%",
         "Displacement, rows 2-3"),
        ("What should I mention about the generators at the hospitals?", "briefing.pptx", "Notes:",
         "Slide 1: Grid repairs"),
        ("Where does the Rhine flow into the North Sea?", "rivers.epub", "Rotterdam", "The Rhine"),
    ]:
        answer = assistant.ask(question).answer
        assert answer is not None and answer.doc_id == doc_id and expected in answer.text, (question, answer)
        assert documents[doc_id].section_at(answer.start) == where


# --- hostile files ---------------------------------------------------------------------------------------------

XLSX, PPTX = made_files.make_xlsx(), made_files.make_pptx()


HOSTILE = [
    ("cut.xlsx", XLSX[: len(XLSX) // 2], "not a valid Excel .xlsx file"),
    ("cut.pptx", PPTX[: len(PPTX) // 2], "not a valid PowerPoint .pptx file"),
    ("locked.xlsx", made_files.OLE2_ENCRYPTED, "password-protected"),
    ("locked.pptx", made_files.OLE2_ENCRYPTED, "password-protected"),
    ("laughs.xlsx", made_files.billion_laughs(XLSX, "xl/workbook.xml"), "declares XML entities in xl/workbook.xml"),
    ("laughs.pptx", made_files.billion_laughs(PPTX, "ppt/slides/slide1.xml"), "billion laughs"),
    ("laughs.docx", made_files.billion_laughs(make_docx(), "word/document.xml"),
     "declares XML entities in word/document.xml"),
    ("parts.xlsx", made_files.many_parts(XLSX, 10_000), "10,0[0-9]{2} parts, over the 5,000"),
    ("cut.csv", b"River,Note\nDanube,\"never closed\n" + b"x" * 200_000, "not valid .csv"),
    ("header.mbox", b"From x\n\n", "no mail in the mailbox has text"),
]


@pytest.mark.parametrize(("name", "data", "reason"), HOSTILE, ids=[case[0] for case in HOSTILE])
def test_hostile_files_are_refused_with_their_reason_quickly(name: str, data: bytes, reason: str) -> None:
    started = time.perf_counter()
    with pytest.raises(UnreadableDocument, match=reason):
        read(name, data)
    assert time.perf_counter() - started < 30  # a generous bound: the point is that nothing expands or loops


def test_billion_laughs_in_an_epub_chapter(tmp_path: Path) -> None:
    with pytest.raises(UnreadableDocument, match="declares XML entities in EPUB/c1.xhtml"):
        read("laughs.epub", made_files.billion_laughs(made_files.make_epub(tmp_path), "EPUB/c1.xhtml"))


def test_a_zip_bomb_is_refused_before_it_is_unpacked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive, "MAX_UNPACKED_BYTES", 8 * 2**20)  # the real limit is 512 MB; the same check
    bomb = made_files.zip_bomb(XLSX, 16)
    assert len(bomb) < 100_000
    with pytest.raises(UnreadableDocument, match=r"unpacks to 16 MB .*a zip bomb"):
        read("bomb.xlsx", bomb)


def test_a_workbook_with_too_many_sheets_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from qa.ingest.readers import spreadsheet

    monkeypatch.setattr(spreadsheet, "MAX_SHEETS", 1)
    with pytest.raises(UnreadableDocument, match="the workbook has 2 sheets, over the 1 qa reads"):
        read("two.xlsx", XLSX)


def test_an_epub_without_its_package_file_is_damaged(tmp_path: Path) -> None:
    source = zipfile.ZipFile(io.BytesIO(made_files.make_epub(tmp_path)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for part in source.infolist():
            if not part.filename.endswith(".opf"):
                target.writestr(part, source.read(part))
    with pytest.raises(UnreadableDocument, match="not a valid EPUB file"):
        read("broken.epub", out.getvalue())


# --- tables inside Word and HTML -------------------------------------------------------------------------------


def test_docx_and_html_tables_keep_each_row_with_its_header() -> None:
    import docx

    word = docx.Document()
    word.add_paragraph("Displacement figures, as counted by the agency.")
    table = word.add_table(rows=3, cols=2)
    for row, cells in zip(table.rows, [("Country", "Displaced"), ("Syria", "6.8 million"), ("Sudan", "11 million")],
                          strict=True):
        for cell, value in zip(row.cells, cells, strict=True):
            cell.text = value
    out = io.BytesIO()
    word.save(out)
    rows = ["Country: Syria; Displaced: 6.8 million", "Country: Sudan; Displaced: 11 million"]
    assert only("figures.docx", out.getvalue()).text.splitlines()[-2:] == rows
    page = (b"<html><body><article><h1>Figures</h1><p>Displacement figures for the year, as counted by the agency."
            b"</p><table><thead><tr><th>Country</th><th>Displaced</th></tr></thead><tbody><tr><td>Syria</td>"
            b"<td>6.8 million</td></tr><tr><td>Sudan</td><td>11 million</td></tr></tbody></table>"
            b"<p>More text follows the table here.</p></article></body></html>")
    lines = only("figures.html", page).text.splitlines()
    assert lines[lines.index(rows[0]):][:3] == [*rows, "More text follows the table here."]


# --- one file of every format, through `qa index` --------------------------------------------------------------


def test_a_folder_with_one_file_of_each_format_is_indexed_by_qa_index(tmp_path: Path, capsys,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    import shutil

    from qa.ingest.readers import SUPPORTED_SUFFIXES
    from qa.serve.cli import main
    from tests.test_readers import fixtures

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for suffix, data in fixtures().items():
        (corpus / f"one{suffix}").write_bytes(data)
    if shutil.which("tesseract"):
        from bench.common import make_scan

        (corpus / "scan.pdf").write_bytes(make_scan(["The ferry to the island leaves at noon."], noise=0.002))
    monkeypatch.setenv("QA_MODEL", "hashing-64")
    assert main(["index", "--corpus", str(corpus), "--index", str(tmp_path / "index"), "--json", "-q"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["problems"] == []
    files = {d.path for d in store.load(tmp_path / "index").documents}
    assert {Path(f).suffix for f in files} == SUPPORTED_SUFFIXES and files == {p.name for p in corpus.iterdir()}
    if shutil.which("tesseract"):
        (scan,) = [d for d in store.load(tmp_path / "index").documents if d.path == "scan.pdf"]
        assert scan.notes[0].startswith("OCR (Tesseract") and "ferry" in scan.text
        assert store.load(tmp_path / "index").layouts["scan.pdf"].boxes(0, len(scan.text))  # boxed in the viewer


def test_pdf_tables_are_read_row_by_row_with_their_header() -> None:
    """reportlab lays a ruled table out; pypdf's plain text gives it one cell per line, qa gives it rows."""
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

    out = io.BytesIO()
    style = getSampleStyleSheet()["Normal"]
    SimpleDocTemplate(out, pagesize=letter).build([
        Paragraph("Displacement figures for the year, as counted by the agency.", style),
        Table([["Country", "Displaced", "Year"], ["Syria", "6.8 million", "2024"], ["Sudan", "11 million", "2024"],
               ["South Sudan", "2.3 million", "2023"]], style=TableStyle([("GRID", (0, 0), (-1, -1), 0.5, "black")])),
        Paragraph("More text follows the table.", style)])
    doc = only("figures.pdf", out.getvalue())
    assert doc.text.splitlines() == ["Displacement figures for the year, as counted by the agency.",
                                     "Country: Syria; Displaced: 6.8 million; Year: 2024",
                                     "Country: Sudan; Displaced: 11 million; Year: 2024",
                                     "Country: South Sudan; Displaced: 2.3 million; Year: 2023",
                                     "More text follows the table."]
