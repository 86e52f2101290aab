from __future__ import annotations

import re
from pathlib import Path

import pytest

from qa.assistant import Assistant, check_k, check_question
from qa.errors import QuestionError
from qa.index.build import build_index


@pytest.fixture
def assistant(small_corpus: Path, tmp_path: Path, embedder) -> Assistant:
    build_index(small_corpus, tmp_path / "index", embedder, progress=False)
    return Assistant.load(tmp_path / "index", embedder=embedder)


def test_ask_returns_ranked_passages_with_provenance(assistant: Assistant) -> None:
    result = assistant.ask("When are apples harvested?", k=2)
    top = result.passages[0]
    assert top.path == "apples.md" and "harvested in autumn" in top.text
    assert top.source == "Apples · Orchard Weekly · 2023-05-01"
    assert top.section == "Harvest"
    assert [p.rank for p in result.passages] == [1, 2]
    assert result.passages[0].score >= result.passages[1].score


def test_result_json_contract(assistant: Assistant) -> None:
    data = assistant.ask("Which sea does the Danube end in?", k=3).to_dict()
    assert set(data) >= {"question", "answer", "passages"}
    passage = data["passages"][0]
    assert {"rank", "score", "source", "title", "file", "start", "end", "page", "text"} <= set(passage)
    assert "path" not in passage  # gradio_client would take the passage for a file to download
    assert passage["file"] == "rivers.txt"


def test_k_larger_than_index_returns_what_exists(assistant: Assistant) -> None:
    n = assistant.info()["documents"]  # one passage per document
    assert len(assistant.ask("apples", k=100, mode="dense").passages) == n


def test_info_lists_sources(assistant: Assistant) -> None:
    info = assistant.info()
    assert info["documents"] == 3 and info["model"] == "hashing-64"
    assert ("Apples · Orchard Weekly · 2023-05-01", "apples.md") in info["sources"]


def test_reload_picks_up_a_new_generation(assistant: Assistant, small_corpus: Path, embedder) -> None:
    assert assistant.reload_if_changed() is False
    (small_corpus / "comets.txt").write_text("Comets have icy nuclei and long tails.")
    build_index(small_corpus, assistant.index_dir, embedder, progress=False)
    assert assistant.reload_if_changed() is True
    assert assistant.ask("comets icy tails", k=1).passages[0].path == "comets.txt"


@pytest.mark.parametrize(
    ("question", "message"),
    [("", "empty"), ("   \n\t", "empty"), ("?!...", "no words"), ("x" * 100_000, "100,000 characters"),
     (None, "must be text")],
)
def test_bad_questions_are_refused(question, message: str) -> None:
    with pytest.raises(QuestionError, match=message):
        check_question(question)


def test_questions_are_cleaned_not_refused() -> None:
    assert check_question("  what\x00 is\x07 this?  ") == "what is this?"
    assert check_question("¿Dónde está Kharkiv? 🎉") == "¿Dónde está Kharkiv? 🎉"
    assert check_question("ما هي سوريا؟") == "ما هي سوريا؟"


@pytest.mark.parametrize(
    ("k", "message"),
    [(0, "k=0 is out of range: ask for between 1 and 100"), (-3, "k=-3 is out of range"),
     (10**9, "k=1000000000 is out of range"), ("many", "k must be a whole number, not 'many'"),
     ("1.5", "k must be a whole number, not '1.5'"), (True, "k must be a whole number, not True")],
)
def test_bad_k_is_refused(k, message: str) -> None:
    with pytest.raises(QuestionError, match=re.escape(message)):
        check_k(k, 100)


def test_k_as_text_is_accepted() -> None:
    assert check_k("7", 100) == 7
