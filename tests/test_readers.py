"""The corpus reader over tiny real files built here: every format, every way a file can be broken."""

from __future__ import annotations

import codecs
import datetime as dt
import io
import json
import os
import tempfile
from pathlib import Path

import docx
import pypdf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qa.ingest.readers
from qa.errors import CorpusError, UnreadableDocument
from qa.ingest.readers import SUPPORTED_SUFFIXES, Problem, ReadResult, list_corpus_files, read_document, read_path
from qa.records import Document
from tests import made_files

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "data" / "scifact" / "corpus.jsonl"


# --- fixture builders -------------------------------------------------------------------------------------------


def make_pdf(pages: list[list[str]], info: dict[str, str] | None = None) -> bytes:
    """A minimal valid PDF written by hand: one Helvetica text line per string, a correct xref table."""

    def literal(text: str) -> str:
        return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"

    font = 3 + 2 * len(pages)
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [{}] /Count {} >>".format(
            " ".join(f"{3 + 2 * i} 0 R" for i in range(len(pages))), len(pages)
        ),
    ]
    for i, lines in enumerate(pages):
        stream = "BT /F1 12 Tf 14 TL 72 720 Td " + " ".join(f"{literal(line)} Tj T*" for line in lines) + " ET"
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 {font} 0 R >> >> /Contents {4 + 2 * i} 0 R >>"
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
    objects.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    trailer_info = ""
    if info:
        objects.append("<< " + " ".join(f"/{key} {literal(value)}" for key, value in info.items()) + " >>")
        trailer_info = f" /Info {len(objects)} 0 R"
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R{trailer_info} >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def encrypt_pdf(data: bytes, user_password: str) -> bytes:
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_docx() -> bytes:
    word = docx.Document()
    word.core_properties.title = "Orchard Report"
    word.core_properties.author = "Orchard Weekly"
    word.core_properties.created = dt.datetime(2023, 5, 1, 9, 30)
    word.add_heading("Orchard Report", level=0)
    word.add_heading("Growing", level=1)
    word.add_paragraph("Apple trees grow best in cool climates.")
    word.add_paragraph("   ")
    word.add_heading("Harvest", level=2)
    word.add_paragraph("Apples are harvested in autumn by hand.")
    table = word.add_table(rows=2, cols=2)
    for row, cells in zip(table.rows, [("Variety", "Month"), ("Gala", "September")], strict=True):
        for cell, value in zip(row.cells, cells, strict=True):
            cell.text = value
    out = io.BytesIO()
    word.save(out)
    return out.getvalue()


PAGE = b"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>Field Notes | Orchard Weekly</title>
<meta property="og:site_name" content="Orchard Weekly"><meta name="date" content="2023-05-01">
<link rel="canonical" href="https://example.org/notes"><style>body { color: STYLETEXT }</style>
<script>var secret = "SCRIPTTEXT";</script></head><body>
<nav><a href="/">NAVTEXT home</a> <a href="/about">About</a></nav><header>HEADERTEXT banner</header>
<article><h1>Field Notes</h1><p>Apple trees grow best in cool climates. They flower in spring near the caf\xc3\xa9.</p>
<p>Apples are harvested in autumn by hand. Pickers use ladders and baskets to collect the fruit carefully.</p>
<h2>Storage</h2><p>Store apples in a cool dark cellar; they keep for months when wrapped in paper.</p></article>
<footer>FOOTERTEXT copyright</footer></body></html>"""

MARKDOWN = (
    "---\ntitle: Apples\npublisher: Orchard Weekly\ndate: 2023-05-01\nurl: https://example.org/apples\n---\n"
    "Intro line.\n\n# Growing\nTrees grow.\n\n```sh\n# not a heading\n```\n\n## Harvest ##\nBy hand.\n"
)


def fixtures() -> dict[str, bytes]:
    """One valid file per supported suffix, the seeds of the fuzz test."""
    return {
        ".txt": b"Apples\r\nThey grow on trees.\r\n",
        ".md": MARKDOWN.encode(),
        ".markdown": b"# Title\nBody text.\n",
        ".html": PAGE,
        ".htm": b"<html><body><p>Short page.</p></body></html>",
        ".pdf": make_pdf([["Page one text."], ["Page two text."]]),
        ".docx": make_docx(),
        ".jsonl": b'{"_id": "1", "title": "T", "text": "Body one."}\n{"_id": "2", "text": "Body two."}\n',
        ".csv": made_files.CSV,
        ".tsv": made_files.CSV.replace(b",", b"\t"),
        ".xlsx": made_files.make_xlsx(),
        ".pptx": made_files.make_pptx(),
        ".eml": made_files.make_eml(),
        ".mbox": made_files.make_mbox(),
        ".epub": _epub(),
    }


def _epub() -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        return made_files.make_epub(Path(folder))


def read(name: str, data: bytes) -> ReadResult:
    return read_document(Path(name), name, data)


def only(name: str, data: bytes) -> Document:
    result = read(name, data)
    assert len(result.documents) == 1 and result.problems == ()
    return result.documents[0]


def check_invariants(doc: Document) -> None:
    """What the chunker relies on: non-empty text, offsets inside it, headings where the offsets say."""
    assert doc.text.strip() and doc.title
    if doc.pages:
        assert doc.pages[0] == 0 and list(doc.pages) == sorted(doc.pages) and doc.pages[-1] <= len(doc.text)
    for offset, heading in doc.sections:
        line = doc.text[offset:].split("\n", 1)[0]
        assert offset == 0 or doc.text[offset - 1] == "\n"
        assert heading in line


# --- every format --------------------------------------------------------------------------------------------


def test_every_suffix_has_a_fixture_that_reads() -> None:
    assert set(fixtures()) == SUPPORTED_SUFFIXES
    for suffix, data in fixtures().items():
        for doc in read(f"doc{suffix}", data).documents:
            check_invariants(doc)


def test_txt_normalises_newlines_and_takes_first_line_as_title() -> None:
    doc = only("notes/apples.txt", b"\n\n  Apples  \r\nThey grow\ron trees.\r\n")
    assert doc.text == "\n\n  Apples  \nThey grow\non trees.\n"
    assert (doc.doc_id, doc.path, doc.title, doc.publisher, doc.date) == (
        "notes/apples.txt",
        "notes/apples.txt",
        "Apples",
        None,
        None,
    )


def test_txt_title_is_trimmed() -> None:
    assert only("a.txt", b"x" * 400).title == "x" * 150


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (codecs.BOM_UTF8 + "café\n".encode(), "café\n"),
        ("café".encode("latin-1"), "café"),
        ("Ça va? Très bien. Où est la gare?".encode("cp1252"), "Ça va? Très bien. Où est la gare?"),
        ("El niño — “quoted” €5".encode("cp1252"), "El niño — “quoted” €5"),
        ("café\r\nnaïve\r\n".encode("utf-16"), "café\nnaïve\n"),
        (codecs.BOM_UTF16_BE + "café".encode("utf-16-be"), "café"),
        ("Привет, как дела? Это тестовый текст на русском языке.".encode("cp1251"), None),
    ],
)
def test_txt_encodings_are_decoded_right(data: bytes, expected: str | None) -> None:
    text = only("a.txt", data).text
    assert text == (expected if expected is not None else data.decode("cp1251"))


def test_markdown_front_matter_is_metadata_not_text() -> None:
    doc = only("apples.md", MARKDOWN.encode())
    assert doc.text.startswith("Intro line.") and "publisher:" not in doc.text
    assert (doc.title, doc.publisher, doc.date, doc.url) == (
        "Apples",
        "Orchard Weekly",
        "2023-05-01",
        "https://example.org/apples",
    )
    assert [heading for _, heading in doc.sections] == ["Growing", "Harvest"]  # not the comment in the fence
    check_invariants(doc)
    assert doc.section_at(doc.text.index("By hand")) == "Harvest"
    assert doc.section_at(0) is None


@pytest.mark.parametrize(
    ("front", "title", "publisher", "date"),
    [
        ("source: Wire\ndate: 'Nov 2024'\n", "Growing", "Wire", "Nov 2024"),
        ("date: 2024-11-30 10:00:00\n", "Growing", None, "2024-11-30"),
        ("", "Growing", None, None),
    ],
)
def test_markdown_metadata_fallbacks(front: str, title: str, publisher: str | None, date: str | None) -> None:
    doc = only("a.md", f"---\n{front}---\nFirst line\n## Sub\n# Growing\ntext\n".encode())
    assert (doc.title, doc.publisher, doc.date) == (title, publisher, date)


def test_markdown_without_headings_uses_first_line() -> None:
    assert only("a.markdown", b"\n## only a subheading\ntext\n").title == "only a subheading"
    assert only("b.md", b"just text\nmore").title == "just text"


@pytest.mark.parametrize("front", ["title: [unclosed\n", "- a list\n- not a mapping\n", "date: 2024-13-01\n"])
def test_markdown_bad_front_matter_names_it(front: str) -> None:
    with pytest.raises(UnreadableDocument, match="front matter"):
        read("a.md", f"---\n{front}---\nBody\n".encode())


def test_markdown_front_matter_only_is_unreadable() -> None:
    with pytest.raises(UnreadableDocument, match="front matter only"):
        read("a.md", b"---\ntitle: x\n---\n\n")


def test_html_keeps_main_text_and_metadata_only() -> None:
    doc = only("notes.html", PAGE)
    for marker in ("NAVTEXT", "SCRIPTTEXT", "STYLETEXT", "HEADERTEXT", "FOOTERTEXT"):
        assert marker not in doc.text
    assert "harvested in autumn" in doc.text and "café" in doc.text
    assert (doc.title, doc.publisher, doc.date, doc.url) == (
        "Field Notes",
        "Orchard Weekly",
        "2023-05-01",
        "https://example.org/notes",
    )
    assert [heading for _, heading in doc.sections] == ["Field Notes", "Storage"]
    check_invariants(doc)


def test_html_tiny_page_still_indexes() -> None:
    page = b"<html><head><title>Tiny</title></head><body><nav>NAV</nav><div>Hi.</div><script>x()</script></body></html>"
    doc = only("tiny.htm", page)
    assert doc.text == "Hi." and doc.title == "Tiny"


def test_html_without_visible_text_is_unreadable() -> None:
    with pytest.raises(UnreadableDocument, match="no text"):
        read("a.html", b"<html><body><nav>Home</nav><script>x()</script></body></html>")


def test_pdf_pages_offsets_and_metadata() -> None:
    data = make_pdf(
        [["First page, line one.", "Line two (with parens)."], ["Second page text."]],
        info={"Title": "Orchard PDF", "Author": "Orchard Weekly", "CreationDate": "D:20240102030405Z"},
    )
    doc = only("report.pdf", data)
    assert (doc.title, doc.publisher, doc.date) == ("Orchard PDF", "Orchard Weekly", "2024-01-02")
    assert len(doc.pages) == 2 and doc.pages[0] == 0
    assert doc.text[doc.pages[1] :].startswith("Second page text.")
    assert "Line two (with parens)." in doc.text[: doc.pages[1]]
    assert doc.page_at(doc.text.index("Second")) == 2 and doc.page_at(0) == 1


def test_pdf_without_metadata_takes_first_line() -> None:
    doc = only("a.pdf", make_pdf([["Just text."]]))
    assert (doc.title, doc.publisher, doc.date) == ("Just text.", None, None)


def test_pdf_encrypted_with_empty_user_password_reads() -> None:
    doc = only("open.pdf", encrypt_pdf(make_pdf([["Secret-free text."]]), user_password=""))
    assert "Secret-free text." in doc.text


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (encrypt_pdf(make_pdf([["Hidden."]]), user_password="secret"), "PDF is encrypted.*unencrypted copy"),
        (b"This is plain text saved as a PDF.\n", "not valid PDF"),
        (make_pdf([["Cut short."]])[:60], "not valid PDF"),
        (make_pdf([[], []]), "no text layer.*OCR"),
    ],
    ids=["encrypted", "text-as-pdf", "truncated", "scanned"],
)
def test_pdf_refusals(data: bytes, match: str) -> None:
    with pytest.raises(UnreadableDocument, match=match):
        read("a.pdf", data)


def test_docx_paragraphs_headings_tables_and_properties() -> None:
    doc = only("report.docx", make_docx())
    assert (doc.title, doc.publisher, doc.date) == ("Orchard Report", "Orchard Weekly", "2023-05-01")
    assert doc.text.split("\n\n") == [
        "Orchard Report",
        "Growing",
        "Apple trees grow best in cool climates.",
        "Harvest",
        "Apples are harvested in autumn by hand.",
        "Variety: Gala; Month: September",
    ]
    assert [heading for _, heading in doc.sections] == ["Orchard Report", "Growing", "Harvest"]
    check_invariants(doc)


def corrupt_deflate(data: bytes) -> bytes:
    """Overwrite compressed bytes of ``word/document.xml``: the zip directory is intact, inflating fails."""
    start = data.index(b"word/document.xml") + len("word/document.xml") + 20
    return data[:start] + b"\xff" * 40 + data[start + 40 :]


@pytest.mark.parametrize(
    "data",
    [b"not a zip at all", make_docx()[:200], b"PK\x03\x04" + b"\x00" * 40, corrupt_deflate(make_docx())],
    ids=["text", "truncated", "empty-zip-header", "bad-deflate"],
)
def test_docx_refuses_damaged_files(data: bytes) -> None:
    with pytest.raises(UnreadableDocument, match="not a valid Word .docx"):
        read("a.docx", data)


def test_jsonl_reports_broken_lines_and_keeps_the_rest() -> None:
    lines = [
        '{"_id": "a", "title": "Alpha", "text": "First."}',
        "{not json",
        "",
        '{"_id": "b", "text": "Second line\\nof text."}',
        '{"title": "no id", "text": "x"}',
        '{"_id": "c", "text": "   "}',
        '{"_id": "a", "text": "Duplicate."}',
        "[1, 2]",
    ]
    result = read("set/c.jsonl", "\n".join(lines).encode())
    assert [(d.doc_id, d.external_id, d.title, d.path) for d in result.documents] == [
        ("set/c.jsonl#a", "a", "Alpha", "set/c.jsonl"),
        ("set/c.jsonl#b", "b", "Second line", "set/c.jsonl"),
    ]
    reasons = [problem.reason for problem in result.problems]
    assert [reason.split(":")[0] for reason in reasons] == ["line 2", "line 5", "line 6", "line 7", "line 8"]
    assert "not valid JSON" in reasons[0] and "_id" in reasons[1] and "text" in reasons[2]
    assert "duplicate _id 'a'" in reasons[3] and "line 1" in reasons[3]
    assert all(problem.path == "set/c.jsonl" for problem in result.problems)


def test_jsonl_caps_the_number_of_line_problems() -> None:
    data = ('{"_id": "ok", "text": "fine"}\n' + "oops\n" * 100).encode()
    problems = read("c.jsonl", data).problems
    assert len(problems) == qa.ingest.readers.jsonl.MAX_LINE_PROBLEMS + 1 and "80 more" in problems[-1].reason


def test_jsonl_without_a_valid_line_is_unreadable() -> None:
    with pytest.raises(UnreadableDocument, match="no valid records.*line 1"):
        read("c.jsonl", b"{broken\n[]\n")


@pytest.mark.skipif(not SCIFACT.exists(), reason="SciFact data not present in shared/data")
def test_real_scifact_slice(tmp_path: Path) -> None:
    with SCIFACT.open(encoding="utf-8") as handle:
        head = [next(handle) for _ in range(50)]
    path = tmp_path / "scifact.jsonl"
    path.write_text("".join(head), encoding="utf-8")
    result = read_path(path, "scifact.jsonl")
    expected = [json.loads(line) for line in head]
    assert result.problems == ()
    assert [d.external_id for d in result.documents] == [record["_id"] for record in expected]
    for doc, record in zip(result.documents, expected, strict=True):
        assert doc.doc_id == f"scifact.jsonl#{record['_id']}" and doc.text == record["text"]
        assert doc.title == (record["title"][:150] or doc.text.split("\n")[0][:150])


@pytest.mark.skipif(not SCIFACT.exists(), reason="SciFact data not present in shared/data")
def test_real_scifact_reads_whole() -> None:
    """Every record of the real file, none refused (its reading speed is bench/'s business, not a test's)."""
    with SCIFACT.open(encoding="utf-8") as handle:
        ids = [json.loads(line)["_id"] for line in handle if line.strip()]
    result = read_path(SCIFACT, "corpus.jsonl")
    assert [d.external_id for d in result.documents] == ids and len(ids) == 5183 and result.problems == ()


# --- refusals shared by all formats ---------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", sorted(SUPPORTED_SUFFIXES))
@pytest.mark.parametrize("data", [b"", b" \n\t\r\n "], ids=["empty", "whitespace"])
def test_empty_files_are_unreadable(suffix: str, data: bytes) -> None:
    with pytest.raises(UnreadableDocument, match="empty"):
        read(f"a{suffix}", data)


@pytest.mark.parametrize("suffix", [".txt", ".md", ".jsonl"])
@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"hello\x00world\x00" * 10, "binary content"),
        (make_pdf([["Saved under the wrong name."]]), "a PDF.*\\.pdf extension"),
        (make_docx(), "ZIP archive or Word"),
        (bytes(range(1, 32)) * 20, "binary content"),
    ],
    ids=["nul", "pdf", "docx", "control"],
)
def test_binary_in_text_files_is_unreadable(suffix: str, data: bytes, match: str) -> None:
    with pytest.raises(UnreadableDocument, match=match):
        read(f"a{suffix}", data)


def test_read_document_refuses_unknown_suffix() -> None:
    with pytest.raises(UnreadableDocument, match="unsupported file type '.rtf'"):
        read("a.rtf", b"{\\rtf1 hi}")


def test_read_path_reports_permission_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.txt"
    path.write_text("hi")

    def deny(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", deny)
    with pytest.raises(UnreadableDocument, match="permission denied"):
        read_path(path, "a.txt")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can read a chmod 000 file")
def test_read_path_reports_real_permission_denied(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("hi")
    path.chmod(0)
    with pytest.raises(UnreadableDocument, match="permission denied"):
        read_path(path, "a.txt")


def test_read_path_reports_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UnreadableDocument, match="cannot read file"):
        read_path(tmp_path / "gone.txt", "gone.txt")


# --- listing the corpus --------------------------------------------------------------------------------------


def test_listing_sorts_skips_hidden_and_reports_unsupported(tmp_path: Path) -> None:
    for name in ("b.md", "a.txt", "sub/c.PDF", "sub/deeper/d.jsonl", ".gitkeep", ".hidden/e.txt", "x.rtf", "README"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    files, problems = list_corpus_files(tmp_path)
    assert [rel for _, rel in files] == ["a.txt", "b.md", "sub/c.PDF", "sub/deeper/d.jsonl"]
    assert all(path.is_absolute() and path.read_text() == "x" for path, _ in files)
    assert [p.path for p in problems] == ["README", "x.rtf"]
    assert "unsupported file type '.rtf': supported are .csv, .docx" in problems[1].reason
    assert "(no extension)" in problems[0].reason


def test_listing_single_file_root(tmp_path: Path) -> None:
    (tmp_path / "one.md").write_text("# One")
    files, problems = list_corpus_files(tmp_path / "one.md")
    assert files == [((tmp_path / "one.md").absolute(), "one.md")] and problems == []


def test_listing_missing_root_raises(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="corpus folder not found: .*--corpus PATH"):
        list_corpus_files(tmp_path / "nowhere")


def test_listing_symlinks(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    (root / "sub").mkdir(parents=True)
    (root / "real.txt").write_text("real")
    (tmp_path / "outside.txt").write_text("secret")
    (root / "inside.txt").symlink_to(root / "real.txt")
    (root / "out.txt").symlink_to(tmp_path / "outside.txt")
    (root / "broken.txt").symlink_to(root / "missing.txt")
    (root / "loop1.txt").symlink_to(root / "loop2.txt")
    (root / "loop2.txt").symlink_to(root / "loop1.txt")
    (root / "sub" / "up").symlink_to(root)
    files, problems = list_corpus_files(root)
    assert [rel for _, rel in files] == ["inside.txt", "real.txt"]
    reasons = {p.path: p.reason for p in problems}
    assert set(reasons) == {"broken.txt", "loop1.txt", "loop2.txt", "out.txt", "sub/up"}
    assert "outside the corpus" in reasons["out.txt"]
    assert "broken link" in reasons["broken.txt"]
    assert "loop" in reasons["loop1.txt"]
    assert "folder" in reasons["sub/up"]


def test_problem_and_result_are_frozen() -> None:
    problem = Problem("a.txt", "why")
    with pytest.raises(AttributeError):
        problem.reason = "other"  # type: ignore[misc]
    assert ReadResult(documents=()).problems == ()


# --- fuzz: nothing but UnreadableDocument ever escapes -------------------------------------------------------

FIXTURES = fixtures()


def survives(suffix: str, data: bytes) -> None:
    try:
        result = read_document(Path(f"fuzz{suffix}"), f"fuzz{suffix}", data)
    except UnreadableDocument as exc:
        assert str(exc)
        return
    assert isinstance(result, ReadResult)
    for doc in result.documents:
        check_invariants(doc)


FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None)


@FUZZ
@given(suffix=st.sampled_from(sorted(SUPPORTED_SUFFIXES)), data=st.binary(max_size=600))
def test_fuzz_random_bytes(suffix: str, data: bytes) -> None:
    survives(suffix, data)


@FUZZ
@given(suffix=st.sampled_from(sorted(SUPPORTED_SUFFIXES)), cut=st.floats(0, 1))
def test_fuzz_truncated_fixtures(suffix: str, cut: float) -> None:
    data = FIXTURES[suffix]
    survives(suffix, data[: int(len(data) * cut)])


@settings(FUZZ, suppress_health_check=[HealthCheck.too_slow])
@given(suffix=st.sampled_from(sorted(SUPPORTED_SUFFIXES)), edits=st.data())
def test_fuzz_corrupted_fixtures(suffix: str, edits: st.DataObject) -> None:
    data = bytearray(FIXTURES[suffix])
    for _ in range(edits.draw(st.integers(1, 8))):
        position = edits.draw(st.integers(0, len(data) - 1))
        data[position] = edits.draw(st.integers(0, 255))
    survives(suffix, bytes(data))
