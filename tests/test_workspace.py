"""The chat's logic without the page: filters, rebuilds while answering, uploads and ratings."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from qa.assistant import Assistant
from qa.embed.embedders import HashingEmbedder
from qa.errors import IndexBusyError, IndexMissingError, QuestionError
from qa.index.build import build_index
from qa.serve.feedback import feedback_record
from qa.serve.workspace import Workspace


@pytest.fixture
def ws(small_corpus: Path, tmp_path: Path, embedder) -> Workspace:
    build_index(small_corpus, tmp_path / "index", embedder, progress=False)
    return Workspace(tmp_path / "index", small_corpus, builder=embedder)


class GatedEmbedder(HashingEmbedder):
    """Blocks inside embed() until released, so a test can act while a rebuild is under way."""

    def __init__(self) -> None:
        super().__init__(64)
        self.entered, self.release = threading.Event(), threading.Event()

    def embed(self, texts, *, batch_size: int = 32):
        self.entered.set()
        assert self.release.wait(10)
        return super().embed(texts, batch_size=batch_size)


def test_ask_matches_the_assistant(ws: Workspace) -> None:
    result = ws.ask("Which sea does the Danube end in?", 2)
    assert result.to_dict() == ws.assistant.ask("Which sea does the Danube end in?", k=2).to_dict()
    assert ws.ask("Which sea does the Danube end in?", None).passages[0].path == "rivers.txt"


def test_filters_and_mode_reach_the_search(ws: Workspace) -> None:
    only = ws.ask("Which sea does the Danube end in?", 3, filters={"source": "Orchard Weekly"})
    assert [p.path for p in only.passages] == ["apples.md"]
    assert ws.ask("rivers", 5, filters={"date_from": "2024"}).passages == ()  # only apples.md has a date (2023)
    assert ws.ask("Danube sea", 2, mode="lexical").mode == "lexical"
    assert ws.ask("Danube sea", 2, mode=None).mode == ws.settings.retrieval.mode


def test_bad_questions_and_modes_raise_domain_errors(ws: Workspace) -> None:
    with pytest.raises(QuestionError, match="empty"):
        ws.ask("   ", 3)
    with pytest.raises(QuestionError, match="k=0"):
        ws.ask("apples", 0)
    with pytest.raises(QuestionError, match="unknown"):
        ws.ask("apples", 3, mode="psychic")
    with pytest.raises(QuestionError, match="swap"):
        ws.ask("apples", 3, filters={"date_from": "2024-02", "date_to": "2024-01-31"})


def test_no_index_yet_says_what_to_do(tmp_path: Path, embedder) -> None:
    ws = Workspace(tmp_path / "index", tmp_path / "corpus", builder=embedder)
    assert ws.assistant is None and ws.info() is None
    with pytest.raises(IndexMissingError, match="add documents"):
        ws.ask("apples", 3)


def test_questions_during_a_rebuild_use_the_current_index(ws: Workspace, small_corpus: Path) -> None:
    gated = GatedEmbedder()
    ws._builder = gated
    (small_corpus / "comets.txt").write_text("Comets have icy nuclei and long tails.\n")
    outcome: dict = {}
    thread = threading.Thread(target=lambda: outcome.setdefault("report", ws.rebuild(progress=False)))
    thread.start()
    try:
        assert gated.entered.wait(10)
        assert ws.building
        during = ws.ask("comets icy tails", 5)
        assert "comets.txt" not in {p.path for p in during.passages} and ws.info()["documents"] == 3
        with pytest.raises(IndexBusyError, match="already running"):
            ws.rebuild(progress=False)
    finally:
        gated.release.set()
        thread.join(10)
    assert outcome["report"].added == ("comets.txt",)
    assert ws.ask("comets icy tails", 1).passages[0].path == "comets.txt" and ws.info()["documents"] == 4


def test_ensure_index_builds_only_when_missing(small_corpus: Path, tmp_path: Path, embedder) -> None:
    ws = Workspace(tmp_path / "fresh", small_corpus, builder=embedder)
    assert ws.ensure_index(progress=False).documents == 3
    first_source, _ = ws.info()["sources"][0]  # (source label, path) pairs, sorted
    assert ws.ensure_index(progress=False) is None and first_source == "Apples · Orchard Weekly · 2023-05-01"


def test_uploads_are_saved_then_indexed_and_refusals_explained(ws: Workspace, tmp_path: Path) -> None:
    good, bad, big = tmp_path / "up1", tmp_path / "up2", tmp_path / "up3"
    good.write_text("Volcanoes\n\nMagma rises through the crust of volcanoes.\n")
    bad.write_bytes(b"MZ\x90\x00")
    big.write_bytes(b"x" * 3000)
    ws.max_upload_bytes = 2048
    saved, refused = ws.add_files([(good, "../volcanoes.txt"), (bad, "tool.exe"), (big, "big.txt")])
    assert [s.name for s in saved] == ["volcanoes.txt"]
    assert [name for name, _ in refused] == ["tool.exe", "big.txt"] and "unsupported" in refused[0][1]
    assert ws.rebuild(progress=False).added == ("volcanoes.txt",)
    assert ws.ask("magma volcanoes crust", 1).passages[0].path == "volcanoes.txt"


def test_unreadable_corpus_files_are_listed_by_the_rebuild(ws: Workspace, small_corpus: Path) -> None:
    (small_corpus / "broken.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    report = ws.rebuild(progress=False)
    assert [p.path for p in report.problems] == ["broken.pdf"]


def test_ratings_are_eval_questions(ws: Workspace) -> None:
    result = ws.ask("Which sea does the Danube end in?", 3).to_dict()
    up = feedback_record(result, True, rating_id="a")
    assert (up["question"], up["source"], up["rating"]) == (result["question"], result["passages"][0]["source"], "up")
    down = feedback_record(result, False, rating_id="b")
    assert down["source"] is None and down["rating"] == "down"
    fixed = feedback_record(result, False, rating_id="b", passage_rank=2)
    assert fixed["source"] == result["passages"][1]["source"] and fixed["id"] == "b"
    with pytest.raises(ValueError, match="no passage ranked 9"):
        feedback_record(result, False, rating_id="c", passage_rank=9)
    for record in (up, down, fixed):
        ws.record_feedback(record)
    lines = (ws.index_dir / "feedback.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["a", "b", "b"]
    assert all({"question", "source", "answer", "rating"} <= set(json.loads(line)) for line in lines)


def test_a_rebuild_keeps_the_model_the_index_was_built_with(small_corpus: Path, tmp_path: Path) -> None:
    build_index(small_corpus, tmp_path / "index", HashingEmbedder(32), progress=False)
    ws = Workspace(tmp_path / "index", small_corpus, model="")  # an empty QA_MODEL names no model
    (small_corpus / "comets.txt").write_text("Comets have icy nuclei and long tails.\n")
    assert ws.rebuild(progress=False).added == ("comets.txt",) and ws.info()["model"] == "hashing-32"
    assert Workspace(tmp_path / "index", small_corpus, model="hashing-64").rebuild(progress=False).documents == 4
    assert Assistant.load(tmp_path / "index").info()["model"] == "hashing-64"  # a named model wins
