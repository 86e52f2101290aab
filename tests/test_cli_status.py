"""`qa status` prints the ledger (all files, or --problems), --json for scripts; errors are one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.serve.cli import main
from tests.test_ledger import mixed_corpus, without_tesseract  # noqa: F401 (autouse)


@pytest.fixture
def indexed(small_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> Path:
    monkeypatch.setenv("QA_MODEL", "hashing-64")
    mixed_corpus(small_corpus)
    index = tmp_path / "index"
    assert main(["index", "--corpus", str(small_corpus), "--index", str(index), "-q"]) == 0
    capsys.readouterr()
    return index


def test_status_lists_every_file_with_its_outcome(indexed: Path, capsys) -> None:
    assert main(["status", "--index", str(indexed)]) == 0
    out = capsys.readouterr().out
    assert "7 files: 4 indexed, 1 needs OCR, 1 skipped, 1 unreadable." in out
    lines = out.splitlines()
    row = next(line for line in lines if line.endswith("  scan.pdf"))
    assert row.split()[:4] == ["needs", "OCR", "0", "pdf"]
    assert "no text layer" in lines[lines.index(row) + 1]
    for name in ("apples.md", "rivers.txt", "stars.txt", "records.jsonl", "notes.numbers", "empty.txt"):
        assert any(line.endswith(f"  {name}") for line in lines), name


def test_status_problems_and_json(indexed: Path, capsys) -> None:
    assert main(["status", "--index", str(indexed), "--problems", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["generation"].startswith("g-000001-")
    files = {f["file"]: f for f in data["files"]}
    assert set(files) == {"notes.numbers", "empty.txt", "scan.pdf", "records.jsonl"}
    assert files["empty.txt"]["status"] == "unreadable" and "empty" in files["empty.txt"]["reason"]
    assert files["records.jsonl"]["status"] == "indexed" and files["records.jsonl"]["chunks"] >= 1
    assert set(files["scan.pdf"]) == {"file", "status", "reason", "reader", "documents", "chunks", "seconds",
                                      "generation"}
    assert main(["status", "--index", str(indexed), "--problems"]) == 0
    out = capsys.readouterr().out
    assert "scan.pdf" in out and "apples.md" not in out


def test_status_without_an_index_is_one_line(tmp_path: Path, capsys) -> None:
    assert main(["status", "--index", str(tmp_path / "none")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no index" in err and "qa index" in err


def test_index_json_carries_the_ledger(indexed: Path, tmp_path: Path, capsys) -> None:
    corpus = tmp_path / "small"
    assert main(["index", "--corpus", str(corpus), "--index", str(indexed), "-q", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    statuses = {f["file"]: f["status"] for f in report["files"]}
    assert statuses["apples.md"] == "unchanged" and statuses["scan.pdf"] == "needs OCR" and len(statuses) == 7
    assert {p["status"] for p in report["problems"]} == {"skipped", "unreadable", "needs OCR"}
