"""Uploads land in the corpus folder under a safe name, never outside it, never over another file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from qa.errors import UploadError
from qa.serve.uploads import safe_filename, save_upload


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("report.md", "report.md"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("/etc/cron.d/evil.md", "evil.md"),
        ("..\\..\\Windows\\win.ini.txt", "win.ini.txt"),
        (".hidden.md", "hidden.md"),
        ("...md", "md"),  # nothing but dots before the suffix: the suffix becomes the name
        ("Report FINAL.PDF", "Report FINAL.pdf"),
        ("na\u0000me\n.txt", "name.txt"),
        ("résumé 2024 (v2).docx", "résumé 2024 (v2).docx"),
        ("a<b>|c?.html", "a_b_c.html"),
        ("x" * 500 + ".md", "x" * 117 + ".md"),
    ],
)
def test_safe_filename(name: str, safe: str) -> None:
    assert safe_filename(name) == safe


@pytest.mark.parametrize("name", ["", "..", "/", "../..", ".", "\u0000"])
def test_names_with_nothing_left_are_refused(name: str) -> None:
    with pytest.raises(UploadError, match="no usable characters"):
        safe_filename(name)


def test_saves_into_the_corpus_only(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    saved = save_upload(b"Zebras migrate.", "../../outside.md", corpus)
    assert saved.name == "outside.md" and (corpus / "outside.md").read_bytes() == b"Zebras migrate."
    assert not (tmp_path / "outside.md").exists()
    assert sorted(p.name for p in corpus.iterdir()) == ["outside.md"]  # no temporary file left behind
    assert "made safe" in saved.note


def test_same_name_is_never_overwritten(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "notes.txt").write_bytes(b"original")
    with pytest.raises(UploadError, match="already in the corpus"):
        save_upload(b"original", "notes.txt", corpus)
    second = save_upload(b"different", "notes.txt", corpus)
    third = save_upload(b"third", "notes.txt", corpus)
    assert (second.name, third.name) == ("notes-2.txt", "notes-3.txt") and "saved as notes-2.txt" in second.note
    assert (corpus / "notes.txt").read_bytes() == b"original"


def test_a_planted_symlink_is_not_followed(tmp_path: Path) -> None:
    corpus, outside = tmp_path / "corpus", tmp_path / "outside.txt"
    corpus.mkdir()
    outside.write_bytes(b"keep me")
    os.symlink(outside, corpus / "a.txt")
    saved = save_upload(b"new text", "a.txt", corpus)
    assert saved.name == "a-2.txt" and outside.read_bytes() == b"keep me"


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [("tool.exe", b"MZ", "unsupported file type '.exe'"), ("README", b"text", "no extension"),
     ("empty.txt", b"", "empty"), ("big.txt", b"x" * 2048, "limit is 0 MB")],
)
def test_refusals_name_the_problem(tmp_path: Path, name: str, data: bytes, message: str) -> None:
    with pytest.raises(UploadError, match=message):
        save_upload(data, name, tmp_path / "corpus", max_bytes=1024)
    assert not (tmp_path / "corpus").exists() or not any((tmp_path / "corpus").iterdir())
