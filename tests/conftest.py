"""Shared fixtures: every test gets its own corpus/index folders and the fast deterministic embedder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from qa.embed.embedders import HashingEmbedder

REPO = Path(__file__).resolve().parent.parent
SEED_CORPUS = REPO / "corpus"
SHARED_DATA = REPO.parent / "shared" / "data"

ISW_DOC = "isw-2024-11-30-russia-iran-syria.md"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("QA_CORPUS", "QA_INDEX", "QA_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder(64)


@pytest.fixture
def seed_corpus(tmp_path: Path) -> Path:
    """A private copy of the repo's corpus/ (the seed documents), safe to edit."""
    target = tmp_path / "corpus"
    shutil.copytree(SEED_CORPUS, target)
    return target


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    """Three short documents whose answers the hashing embedder can find by shared words."""
    return write_small_corpus(tmp_path / "small")


def write_small_corpus(corpus: Path) -> Path:
    corpus.mkdir()
    (corpus / "apples.md").write_text(
        "---\ntitle: Apples\npublisher: Orchard Weekly\ndate: 2023-05-01\n---\n"
        "# Growing\nApple trees grow best in cool climates. They flower in spring.\n\n"
        "# Harvest\nApples are harvested in autumn by hand. Pickers use ladders.\n",
        encoding="utf-8",
    )
    (corpus / "rivers.txt").write_text(
        "Rivers of Europe\n\nThe Danube flows through ten countries. It ends in the Black Sea.\n"
        "The Rhine starts in the Swiss Alps and ends in the North Sea.\n",
        encoding="utf-8",
    )
    (corpus / "stars.txt").write_text(
        "Stars\n\nA neutron star is the collapsed core of a massive star. Neutron stars spin quickly.\n",
        encoding="utf-8",
    )
    return corpus
