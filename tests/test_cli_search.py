"""`qa ask` with a search mode and filters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.serve.cli import main


@pytest.fixture
def index(small_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("QA_MODEL", "hashing-64")
    assert main(["index", "--corpus", str(small_corpus), "--index", str(tmp_path / "index"), "-q"]) == 0
    return tmp_path / "index"


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_ask_with_a_mode(index: Path, mode: str, capsys) -> None:
    capsys.readouterr()
    assert main(["ask", "Danube Black Sea", "--index", str(index), "--mode", mode, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["mode"] == mode and data["passages"][0]["file"] == "rivers.txt"


def test_ask_with_filters(index: Path, capsys) -> None:
    capsys.readouterr()
    assert main(["ask", "Danube Black Sea", "--index", str(index), "--source", "orchard", "--from", "2023",
                 "--to", "2023-12-31", "--path", "*.md", "--json"]) == 0
    assert [p["file"] for p in json.loads(capsys.readouterr().out)["passages"]] == ["apples.md"]


def test_bad_filter_is_one_line(index: Path, capsys) -> None:
    capsys.readouterr()
    assert main(["ask", "Danube", "--index", str(index), "--from", "yesterday"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("qa: error: filter date_from='yesterday' is not an ISO date") and err.count("\n") == 1
