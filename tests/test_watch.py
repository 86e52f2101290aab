"""The corpus that indexes itself, on a real folder (inotify through watchfiles) with the fast embedder.

No fixed sleeps but where a test must show that something does *not* happen (then: the quiet time and a margin);
everything else polls for its outcome with a deadline.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from qa.embed.embedders import HashingEmbedder
from qa.index.build import build_index
from qa.serve.watch import CorpusWatcher, relevant
from qa.serve.workspace import Workspace
from tests.conftest import Lines

QUIET = 0.5  # seconds of stillness before a rebuild: short, so the tests are
DEADLINE = 20.0


def wait_for(condition: Callable[[], object], what: str, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class GatedEmbedder(HashingEmbedder):
    """The hashing embedder, holding every embed call until ``gate`` opens (a rebuild caught in the act)."""

    def __init__(self) -> None:
        super().__init__(64)
        self.gate = threading.Event()
        self.gate.set()

    def embed(self, texts, *, batch_size: int = 32) -> np.ndarray:
        assert self.gate.wait(DEADLINE), "the test never opened the gate"
        return super().embed(texts, batch_size=batch_size)


@pytest.fixture
def watched(small_corpus: Path, tmp_path: Path) -> Iterator[tuple[Workspace, CorpusWatcher, GatedEmbedder]]:
    builder = GatedEmbedder()
    build_index(small_corpus, tmp_path / "index", builder, progress=False)
    ws = Workspace(tmp_path / "index", small_corpus, builder=builder)
    ws.warm_up()
    watcher = ws.watch(quiet_seconds=QUIET)
    wait_for(lambda: watcher.state.watching, "the watcher to start")
    time.sleep(0.2)  # subtle: inotify watches are added a moment after the thread starts
    yield ws, watcher, builder
    watcher.stop()


def rebuilt(watcher: CorpusWatcher, count: int) -> Callable[[], bool]:
    return lambda: watcher.state.rebuilds >= count


def paths(ws: Workspace) -> set[str]:
    return {d.path for d in ws.assistant.data.documents}


def test_added_renamed_and_removed_files_are_indexed_without_a_command(watched) -> None:
    ws, watcher, _ = watched
    (ws.corpus_dir / "volcanoes.txt").write_text("Volcanoes\n\nMagma rises through the crust of volcanoes.\n")
    wait_for(rebuilt(watcher, 1), "the rebuild after an added file")
    assert watcher.state.last_changes == ("added volcanoes.txt",) and watcher.state.error is None
    assert ws.ask("magma volcanoes crust", 1).passages[0].path == "volcanoes.txt"
    (ws.corpus_dir / "volcanoes.txt").rename(ws.corpus_dir / "magma.txt")
    wait_for(rebuilt(watcher, 2), "the rebuild after a rename")
    assert watcher.state.report.chunks_embedded == 0  # the moved text is found by content, not embedded again
    assert ws.ask("magma volcanoes crust", 1).passages[0].path == "magma.txt" and "volcanoes.txt" not in paths(ws)
    (ws.corpus_dir / "magma.txt").unlink()
    wait_for(rebuilt(watcher, 3), "the rebuild after a removal")
    assert watcher.state.last_changes == ("removed magma.txt",) and "magma.txt" not in paths(ws)
    assert {e.path for e in ws.ledger().entries} == {"apples.md", "rivers.txt", "stars.txt"}


def test_a_file_copied_in_slowly_is_read_once_whole(watched) -> None:
    ws, watcher, _ = watched
    sentences = [f"Sentence {i} of the slow report mentions glaciers number {i}.\n" for i in range(6)]
    with (ws.corpus_dir / "slow.txt").open("w") as handle:
        for sentence in sentences:
            handle.write(sentence)
            handle.flush()
            time.sleep(QUIET / 3)  # slower than any burst, quicker than the quiet time
            assert watcher.state.rebuilds == 0 and not watcher.state.rebuilding, "rebuilt a half-copied file"
    wait_for(rebuilt(watcher, 1), "the rebuild after the copy")
    doc = next(d for d in ws.assistant.data.documents if d.path == "slow.txt")
    assert doc.text.endswith(sentences[-1]) and watcher.state.rebuilds == 1


def test_a_file_replaced_under_the_same_name(watched) -> None:
    """What editors do on save: write a temporary file, then rename it over the original."""
    ws, watcher, _ = watched
    scratch = ws.corpus_dir / "rivers.txt.tmp"
    scratch.write_text("Rivers of Asia\n\nThe Mekong flows through six countries.\n")
    os.replace(scratch, ws.corpus_dir / "rivers.txt")
    wait_for(rebuilt(watcher, 1), "the rebuild after a replace")
    report = watcher.state.report
    assert report.changed == ("rivers.txt",) and report.added == report.removed == ()
    assert ws.ask("Mekong countries", 1).passages[0].path == "rivers.txt"
    assert "rivers.txt.tmp" not in {e.path for e in ws.ledger().entries}


def test_a_folder_moved_in_with_hundreds_of_files_is_one_rebuild(watched, tmp_path: Path) -> None:
    ws, watcher, _ = watched
    outside = tmp_path / "outside" / "batch"
    outside.mkdir(parents=True)
    for i in range(300):
        (outside / f"note-{i:03d}.txt").write_text(f"Note {i}\n\nField note number {i} about lichens.\n")
    outside.rename(ws.corpus_dir / "batch")
    wait_for(rebuilt(watcher, 1), "the rebuild after the move")
    time.sleep(QUIET * 2)  # and no second one: the move was one batch
    assert watcher.state.rebuilds == 1 and watcher.state.report.documents == 303
    assert len(ws.assistant.data.documents) == 303


def test_editor_temporary_files_start_no_rebuild(watched) -> None:
    ws, watcher, _ = watched
    for name in (".rivers.txt.swp", "rivers.txt~", ".#rivers.txt", "#rivers.txt#", "4913", "draft.tmp"):
        (ws.corpus_dir / name).write_text("scratch")
    (ws.corpus_dir / ".hidden").mkdir()
    (ws.corpus_dir / ".hidden" / "notes.txt").write_text("inside a hidden folder")
    time.sleep(QUIET * 3)  # what must not happen: a rebuild, given time to start
    assert watcher.state.rebuilds == 0 and not watcher.state.waiting and not watcher.state.rebuilding
    (ws.corpus_dir / "real.txt").write_text("Real\n\nA real document about moss.\n")
    wait_for(rebuilt(watcher, 1), "the rebuild after a real file")
    assert watcher.state.last_changes == ("added real.txt",)


def test_questions_are_answered_from_the_old_generation_during_the_rebuild(watched) -> None:
    ws, watcher, builder = watched
    before = ws.ask("Danube", 1).generation
    builder.gate.clear()
    (ws.corpus_dir / "volcanoes.txt").write_text("Volcanoes\n\nMagma rises through the crust of volcanoes.\n")
    wait_for(lambda: watcher.state.rebuilding, "the rebuild to start")
    during = ws.ask("Danube", 1)
    assert during.generation == before and during.passages[0].path == "rivers.txt"
    builder.gate.set()
    wait_for(rebuilt(watcher, 1), "the rebuild to finish")
    after = ws.ask("magma volcanoes crust", 1)
    assert after.generation != before and after.passages[0].path == "volcanoes.txt"


def test_relevant_ignores_hidden_folders_and_scratch_files(tmp_path: Path) -> None:
    assert relevant(tmp_path / "a" / "b.md", tmp_path)
    assert not relevant(tmp_path / ".git" / "b.md", tmp_path)
    assert not relevant(tmp_path / "a" / "b.md~", tmp_path)
    assert not relevant(tmp_path.parent / "elsewhere.md", tmp_path)


def test_qa_watch_command(small_corpus: Path, tmp_path: Path) -> None:
    env = {**os.environ, "QA_MODEL": "hashing-64", "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    command = [sys.executable, "-m", "qa", "watch", "--corpus", str(small_corpus), "--index", str(tmp_path / "i"),
               "--quiet-seconds", str(QUIET)]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = Lines(proc.stdout)  # read with a deadline: a hung child fails the test instead of hanging it
        assert "Indexed 3 documents" in lines.until("Indexed", 60)
        lines.until("qa: watching", 30)
        time.sleep(0.3)  # subtle: the watch starts a moment after the line
        (small_corpus / "moss.txt").write_text("Moss\n\nMoss grows on the north side.\n")
        assert lines.until("qa: changes:", DEADLINE) == "qa: changes: added moss.txt\n"
        assert "1 added" in lines.until("Documents:", DEADLINE)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(10)
    assert proc.returncode == 0


def test_the_page_shows_the_watcher_and_refreshes_after_each_rebuild(watched) -> None:
    from qa.serve import chat_handlers
    from qa.serve.chat_page import build_app

    ws, watcher, builder = watched
    assert build_app(ws) is not None  # the page with its timer builds
    line, *rest, seen = chat_handlers.watch_view(ws, -1)  # a page that has shown nothing yet: everything
    assert "Watching" in line and seen == 0 and "rivers.txt" in str(rest[1]["value"])
    assert chat_handlers.watch_view(ws, 0)[1:6] == (chat_handlers.gr.skip(),) * 5  # nothing new: the line only
    builder.gate.clear()
    (ws.corpus_dir / "moss.txt").write_text("Moss\n\nMoss grows on the north side.\n")
    wait_for(lambda: watcher.state.rebuilding, "the rebuild to start")
    assert "Rebuilding the index for added moss.txt" in chat_handlers.watch_view(ws, 0)[0]
    builder.gate.set()
    wait_for(rebuilt(watcher, 1), "the rebuild to finish")
    line, _, table, *_, seen = chat_handlers.watch_view(ws, 0)
    assert "for added moss.txt: Index: 4 documents" in line and "1 added" in line and seen == 1
    assert "moss.txt" in [row[1] for row in table["value"]]
    assert chat_handlers.watch_view(Workspace(ws.index_dir, ws.corpus_dir), 0) == (chat_handlers.gr.skip(),) * 7


def test_a_rebuild_that_fails_is_shown_and_the_old_index_answers(watched) -> None:
    ws, watcher, _ = watched
    for path in list(ws.corpus_dir.iterdir()):
        path.unlink()
    wait_for(rebuilt(watcher, 1), "the rebuild after every file was removed")
    assert "no readable documents" in watcher.state.error and watcher.state.report is None
    assert ws.ask("Danube", 1).passages[0].path == "rivers.txt"  # the last good generation still answers
    (ws.corpus_dir / "moss.txt").write_text("Moss\n\nMoss grows on the north side.\n")
    wait_for(rebuilt(watcher, 2), "the rebuild after a file came back")
    assert watcher.state.error is None and paths(ws) == {"moss.txt"}


def test_changes_wait_while_another_rebuild_runs(watched) -> None:
    """A rebuild from the page holds the index: the watcher keeps its changes and rebuilds once it is free."""
    ws, watcher, builder = watched
    builder.gate.clear()
    (ws.corpus_dir / "first.txt").write_text("First\n\nThe first document is about ferns.\n")
    manual = threading.Thread(target=ws.rebuild, kwargs={"progress": False})
    manual.start()  # before the watcher's quiet time is over: it embeds first.txt, held at the gate
    wait_for(lambda: ws.building, "the page's rebuild to start")
    (ws.corpus_dir / "second.txt").write_text("Second\n\nThe second document is about mosses.\n")
    time.sleep(QUIET * 3)  # what must not happen: a second rebuild at once, or the changes dropped
    assert watcher.state.rebuilds == 0 and watcher.state.waiting and not watcher.state.rebuilding
    builder.gate.set()
    manual.join(DEADLINE)
    wait_for(rebuilt(watcher, 1), "the watcher's rebuild once the index is free")
    assert {"first.txt", "second.txt"} <= paths(ws) and watcher.state.error is None
