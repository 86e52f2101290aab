"""Shared fixtures: every test gets its own corpus/index folders and the fast deterministic embedder."""

from __future__ import annotations

import os
import queue
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from qa.embed.embedders import HashingEmbedder
from tests.ray_cluster import RayCluster, cluster_fixture

REPO = Path(__file__).resolve().parent.parent
SEED_CORPUS = REPO / "corpus"
SHARED_DATA = REPO.parent / "shared" / "data"

ISW_DOC = "isw-2024-11-30-russia-iran-syria.md"


@pytest.fixture(scope="session", autouse=True)
def _private_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh home folder for the whole run, so user state (the OpenVINO export in ``~/.cache/qa``, anything under
    ``XDG_CACHE_HOME``) starts empty and is gone afterwards: what one run leaves cannot change what the next measures.
    Session-wide, and set in ``os.environ`` itself, so module fixtures and child processes see it too."""
    home = tmp_path_factory.mktemp("home")
    saved = {name: os.environ.get(name) for name in ("HOME", "XDG_CACHE_HOME")}
    os.environ.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"))
    yield home
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("QA_CORPUS", "QA_INDEX", "QA_MODEL", "QA_MODEL_CACHE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")


@pytest.fixture(scope="session")
def ray_cluster(_private_home: Path) -> Iterator[RayCluster]:
    """A real Ray cluster (a head and two worker nodes) in a network namespace, started once per session; see
    ``tests/ray_cluster.py`` for how to use it."""
    yield from cluster_fixture()


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


class Lines:
    """A child process's text output, read by a thread: a test waits for a line with a deadline (a child that hangs
    fails the test instead of hanging it), and the pipe is drained for the child's whole life so it never blocks.

    ``next`` returns ``""`` once the output is closed, as ``readline`` does.
    """

    def __init__(self, stream: IO[str]):
        self._queue: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line)
        self._queue.put("")

    def next(self, timeout: float = 60) -> str:
        try:
            line = self._queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no line within {timeout:g} s; so far: {''.join(self.seen)[-2000:]!r}") from None
        if line == "":
            self._queue.put("")  # closed stays closed
        self.seen.append(line)
        return line

    def until(self, text: str, timeout: float = 60) -> str:
        """The first line that contains ``text``; fails if the output closes or the deadline passes first."""
        deadline = time.monotonic() + timeout
        while line := self.next(max(deadline - time.monotonic(), 0.01)):
            if text in line:
                return line
        raise AssertionError(f"output closed before {text!r}: {''.join(self.seen)[-2000:]!r}")
