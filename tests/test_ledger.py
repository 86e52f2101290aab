"""The ingestion ledger: every corpus file's outcome, recorded by each build, checksummed with the generation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.errors import IndexCorruptError, IndexMissingError
from qa.index import store
from qa.index.build import build_index
from qa.index.ledger import LEDGER_FILE, read_ledger
from qa.ingest.readers import ocr
from qa.records import LedgerEntry
from qa.settings import Settings


@pytest.fixture(autouse=True)
def without_tesseract(monkeypatch: pytest.MonkeyPatch) -> None:
    """The scan in these corpora stands for a user without Tesseract: its ledger status is "needs OCR" (with
    Tesseract, a page of drawing holds no text and is "unreadable"; tests/test_ocr.py reads real scans)."""
    monkeypatch.setattr(ocr, "missing_reason", lambda languages: "Tesseract is not installed: " + ocr.install_hint(
        languages))


def scanned_pdf() -> bytes:
    """A PDF page with a drawing and no text layer, written by fpdf2: what a scanner without OCR makes."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 120, 80, style="F")
    return bytes(pdf.output())


def mixed_corpus(corpus: Path) -> Path:
    """One file of every outcome but 'too big' (which needs a small limit) and 'unchanged' (a second build)."""
    (corpus / "notes.numbers").write_bytes(b"PK\x03\x04 a spreadsheet")
    (corpus / "empty.txt").write_text("")
    (corpus / "scan.pdf").write_bytes(scanned_pdf())
    lines = [json.dumps({"_id": "1", "title": "Tides", "text": "The moon pulls the tides."}), "{broken"]
    (corpus / "records.jsonl").write_text("\n".join(lines) + "\n")
    return corpus


def by_path(entries: tuple[LedgerEntry, ...] | list[LedgerEntry]) -> dict[str, LedgerEntry]:
    return {e.path: e for e in entries}


def test_every_file_is_in_the_ledger_with_its_outcome(small_corpus: Path, tmp_path: Path, embedder) -> None:
    mixed_corpus(small_corpus)
    report = build_index(small_corpus, tmp_path / "index", embedder, progress=False)
    ledger = read_ledger(tmp_path / "index")
    files = by_path(ledger.entries)
    listed = {p.relative_to(small_corpus).as_posix() for p in small_corpus.rglob("*") if p.is_file()}
    assert set(files) == listed  # no file left out, refused or not
    assert ledger.entries == report.ledger and ledger.generation == report.generation
    assert {path: e.status for path, e in files.items()} == {
        "apples.md": "indexed", "rivers.txt": "indexed", "stars.txt": "indexed", "records.jsonl": "indexed",
        "notes.numbers": "skipped", "empty.txt": "unreadable", "scan.pdf": "needs OCR"}
    # the reasons are the messages the build reports, and a partly read file names what was left out
    problems = {p.path: p.reason for p in report.problems}
    assert files["scan.pdf"].reason == problems["scan.pdf"]
    assert "apt-get install tesseract-ocr" in files["scan.pdf"].reason
    assert files["notes.numbers"].reason == problems["notes.numbers"]
    assert files["records.jsonl"].reason.startswith("line 2:") and files["records.jsonl"].problem
    assert not files["apples.md"].problem and files["apples.md"].reason == ""
    assert {e.path for e in ledger.problems} == {"notes.numbers", "empty.txt", "scan.pdf", "records.jsonl"}
    # readers, counts and the generation
    assert (files["apples.md"].reader, files["scan.pdf"].reader, files["notes.numbers"].reader) == ("md", "pdf", "")
    data = store.load(tmp_path / "index")
    assert sum(e.chunks for e in ledger.entries) == len(data.chunks)
    assert sum(e.documents for e in ledger.entries) == len(data.documents)
    assert all(e.generation == data.generation and e.seconds >= 0 for e in ledger.entries)


def test_an_unchanged_file_keeps_the_generation_that_read_it(small_corpus: Path, tmp_path: Path, embedder) -> None:
    index = tmp_path / "index"
    first = build_index(small_corpus, index, embedder, progress=False)
    (small_corpus / "rivers.txt").write_text("Rivers\n\nThe Nile is long.\n")
    second = build_index(small_corpus, index, embedder, progress=False)
    files = by_path(read_ledger(index).entries)
    assert (files["rivers.txt"].status, files["rivers.txt"].generation) == ("indexed", second.generation)
    assert (files["apples.md"].status, files["apples.md"].generation) == ("unchanged", first.generation)
    assert files["apples.md"].chunks == by_path(first.ledger)["apples.md"].chunks > 0


def test_a_file_too_big_is_recorded_as_such(small_corpus: Path, tmp_path: Path, embedder) -> None:
    (small_corpus / "huge.txt").write_bytes(b"word " * 300_000)  # 1.4 MB
    build_index(small_corpus, tmp_path / "index", embedder, settings=Settings(max_file_mb=1), progress=False)
    entry = by_path(read_ledger(tmp_path / "index").entries)["huge.txt"]
    assert entry.status == "too big" and "over the 1 MB limit" in entry.reason and entry.chunks == 0


def test_a_newly_refused_file_makes_a_new_generation(small_corpus: Path, tmp_path: Path, embedder) -> None:
    """Nothing to embed, yet the live ledger must list the new file: the build writes a generation for it."""
    index = tmp_path / "index"
    first = build_index(small_corpus, index, embedder, progress=False)
    (small_corpus / "slides.numbers").write_bytes(b"PK\x03\x04")
    second = build_index(small_corpus, index, embedder, progress=False)
    assert second.generation != first.generation and second.chunks_embedded == 0
    assert by_path(read_ledger(index).entries)["slides.numbers"].status == "skipped"
    third = build_index(small_corpus, index, embedder, progress=False)
    assert third.generation == second.generation  # and with nothing new, none is written
    assert {e.status for e in third.ledger} == {"unchanged", "skipped"}


def test_the_ledger_is_checksummed_with_the_generation(small_corpus: Path, tmp_path: Path, embedder) -> None:
    index = tmp_path / "index"
    build_index(small_corpus, index, embedder, progress=False)
    path = store.current_generation(index) / LEDGER_FILE
    path.write_text(path.read_text().replace('"indexed"', '"skipped"', 1))
    with pytest.raises(IndexCorruptError, match="ledger.jsonl does not match its checksum.*qa index --full"):
        read_ledger(index)
    with pytest.raises(IndexCorruptError, match="does not match its checksum"):
        store.load(index)


def test_an_index_without_a_ledger_says_how_to_get_one(small_corpus: Path, tmp_path: Path, embedder) -> None:
    index = tmp_path / "index"
    with pytest.raises(IndexMissingError, match="no index.*qa index"):
        read_ledger(index)
    build_index(small_corpus, index, embedder, progress=False)
    gen = store.current_generation(index)
    manifest = json.loads((gen / "manifest.json").read_text())
    del manifest["files"][LEDGER_FILE]
    (gen / LEDGER_FILE).unlink()
    (gen / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexMissingError, match="before qa kept a ledger.*qa index --full"):
        read_ledger(index)
    assert len(store.load(index).documents) == 3  # the older index itself still loads
