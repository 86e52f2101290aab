"""Faults during a rebuild: kill -9 at every stage, a full disk, a write that fails, two rebuilds at once.

The promise under test: the previous index keeps loading and answering, nothing half-written is ever live, the next
`qa index` finishes the job without embedding again what was already committed to the cache, and each failure is one
line that says what to do.
"""

from __future__ import annotations

import errno
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import faiss
import numpy as np
import pytest

from qa.assistant import Assistant
from qa.embed.cache import EmbeddingCache
from qa.embed.embedders import HashingEmbedder
from qa.errors import IndexBusyError, IndexWriteError
from qa.index import store
from qa.index.build import build_index
from qa.index.engine import LOCAL
from tests.conftest import Lines

REPO = Path(__file__).resolve().parent.parent
REAL_FAISS_WRITER = faiss.PyCallbackIOWriter
EXTRA = 600  # new one-chunk documents for the build that gets killed: more than two embedding blocks

# A build in a child process that stops dead (prints PAUSE, sleeps) at a chosen point, for the parent to kill -9.
CHILD = r"""
import os, shutil, sys, time
from pathlib import Path
import numpy as np
from qa.index import build
from qa.ingest import readers
from qa.embed.embedders import HashingEmbedder

point, corpus, index = sys.argv[1:4]


def pause_before(owner, name, when):
    real = getattr(owner, name)
    calls = []

    def wrapper(*args, **kwargs):
        calls.append(1)
        if when(len(calls), *args):
            print("PAUSE", point, flush=True)
            time.sleep(120)
        result = real(*args, **kwargs)
        if point == "after-swap" and name == "replace" and Path(args[1]).name == "CURRENT":
            print("PAUSE", point, flush=True)
            time.sleep(120)
        return result

    setattr(owner, name, wrapper)


name = lambda path: Path(path).name  # noqa: E731
stops = {
    "reading": (readers, "read_document", lambda n, *a: n == 300),
    "embedding": (HashingEmbedder, "embed", lambda n, *a: n == 2),  # block 1 is committed to the cache
    # vectors written, chunk table not (other savez calls write to in-memory buffers)
    "writing": (np, "savez", lambda n, *a: isinstance(a[0], str | os.PathLike) and name(a[0]) == "chunks.npz"),
    "renaming": (os, "rename", lambda n, *a: name(a[0]).startswith(".tmp-")),  # complete, under its temporary name
    "swapping": (os, "replace", lambda n, *a: name(a[1]) == "CURRENT"),  # in place, CURRENT not yet replaced
    "after-swap": (os, "replace", lambda n, *a: False),  # CURRENT replaced, directory not yet synced
    "pruning": (shutil, "rmtree", lambda n, *a: name(a[0]).startswith("g-")),  # removing an old generation
}
if point in stops:
    pause_before(*stops[point])

# "event:N": print "AT <phase>" at each of the build's own calls below, and stop dead at the N-th (0: never).
probes = {
    "reading": (readers, "read_document", lambda *a: True),
    "embedding": (HashingEmbedder, "embed", lambda *a: True),
    "writing": (os, "fsync", lambda *a: True),  # each file of the new generation, the folder, the pointer
    "renaming": (os, "rename", lambda *a: name(a[0]).startswith(".tmp-")),
    "swapping": (os, "replace", lambda *a: name(a[1]) == "CURRENT"),
}
events = []


def probe(phase, owner, attr, counts):
    real = getattr(owner, attr)

    def wrapper(*args, **kwargs):
        if counts(*args):
            events.append(phase)
            print("AT", phase, flush=True)
            if len(events) == stop:
                print("PAUSE", point, flush=True)
                time.sleep(120)
        return real(*args, **kwargs)

    setattr(owner, attr, wrapper)


if point.startswith("event:"):
    stop = int(point.split(":")[1])
    for phase, (owner, attr, counts) in probes.items():
        probe(phase, owner, attr, counts)
print("START", flush=True)
started = time.perf_counter()
build.build_index(Path(corpus), Path(index), HashingEmbedder(64), progress=False)
print("DONE", time.perf_counter() - started, flush=True)
"""


def start_child(point: str, corpus: Path, index: Path, log: Path) -> tuple[subprocess.Popen[str], Lines]:
    """The child build, and its output read with deadlines (a child that hangs fails the test, not hangs it)."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, point, str(corpus), str(index)], stdout=subprocess.PIPE,
                             stderr=log.open("w"), text=True, cwd=REPO)
    return child, Lines(child.stdout)


def kill(child: subprocess.Popen[str]) -> None:
    child.kill()
    child.wait(timeout=30)


def cached(index: Path) -> int:
    with sqlite3.connect(index / "cache" / "embeddings.sqlite") as db:
        return db.execute("SELECT COUNT(*) FROM vectors WHERE model = ?", ["hashing-v1-64"]).fetchone()[0]


def add_extra_documents(corpus: Path) -> None:
    for i in range(EXTRA):
        (corpus / f"extra{i:03d}.txt").write_text(f"Extra document {i} about topic {i * 7}.")


def still_answers(index: Path) -> store.IndexData:
    """The live generation loads with every check and answers from the seed documents."""
    data = store.load(index)
    passages = Assistant.load(index, embedder=HashingEmbedder(64)).ask("Danube Black Sea", k=3, mode="lexical").passages
    assert any(p.path == "rivers.txt" and "Danube" in p.text for p in passages)
    return data


# committed to the cache at the kill -> embedded by the next build
EMBEDDED_NEXT = {"reading": EXTRA, "embedding": EXTRA - LOCAL.block, "writing": 0, "renaming": 0, "swapping": 0,
                 "after-swap": 0, "pruning": EXTRA}


@pytest.mark.parametrize("point", [p if p in ("embedding", "swapping") else pytest.param(p, marks=pytest.mark.slow)
                                   for p in EMBEDDED_NEXT])
def test_kill_9_at_each_stage_keeps_an_index_and_the_next_build_finishes(point: str, small_corpus: Path,
                                                                         tmp_path: Path) -> None:
    index = tmp_path / "index"
    embedder = HashingEmbedder(64)
    build_index(small_corpus, index, embedder, progress=False)
    if point == "pruning":  # two more generations, so the killed build has an old one to remove
        for version in (1, 2):
            (small_corpus / "stars.txt").write_text(f"Stars\n\nVersion {version}: neutron stars spin quickly.")
            build_index(small_corpus, index, embedder, progress=False)
    live = store.current_generation(index)
    before = cached(index)
    add_extra_documents(small_corpus)

    child, lines = start_child(point, small_corpus, index, tmp_path / "child.log")
    assert lines.next().strip() == "START"
    line = lines.next(120).strip()
    kill(child)
    assert line == f"PAUSE {point}", (line, (tmp_path / "child.log").read_text())

    data = still_answers(index)
    if point == "after-swap":
        assert data.generation != live.name and len(data.documents) == 3 + EXTRA
    else:
        assert data.generation == live.name and len(data.documents) == 3
    assert cached(index) - before == EXTRA - EMBEDDED_NEXT[point]

    report = build_index(small_corpus, index, embedder, progress=False)
    assert report.chunks_embedded == EMBEDDED_NEXT[point]
    data = still_answers(index)
    assert len(data.documents) == 3 + EXTRA
    assert not list((index / "generations").glob(".tmp-*"))


@pytest.mark.slow
def test_kill_9_at_random_points_of_a_real_build(small_corpus: Path, tmp_path: Path) -> None:
    """Six kills of a real build process, each from the same starting index, at seeded random points among the
    build's own calls: one in each phase (reading, embedding, writing, renaming, swapping), one anywhere.

    Every time: the live index passes every load check and answers, and the next build embeds exactly what the
    killed one had not committed to the cache. subtle: the points are calls counted in a first, unkilled build, not
    moments of a clock, so that every phase is hit on every run whatever the machine's speed.
    """
    base = tmp_path / "base"
    build_index(small_corpus, base, HashingEmbedder(64), progress=False)
    extra = EXTRA * 4
    for i in range(extra):
        (small_corpus / f"extra{i:04d}.txt").write_text(f"Extra document {i} about topic {i * 7}. More on {i}.")
    shutil.copytree(base, tmp_path / "reference")
    reference, lines = start_child("event:0", small_corpus, tmp_path / "reference", tmp_path / "reference.log")
    assert lines.next().strip() == "START"
    phases = []
    while (line := lines.next(120)).startswith("AT "):
        phases.append(line.split()[1])
    assert line.startswith("DONE"), (line, (tmp_path / "reference.log").read_text())
    reference.wait(timeout=30)
    order = list(dict.fromkeys(phases))
    assert order == ["reading", "embedding", "writing", "renaming", "swapping"], order
    rng = random.Random(20241130)
    stops = [rng.choice([n for n, p in enumerate(phases, 1) if p == phase]) for phase in order]
    stops.append(rng.randint(1, len(phases)))
    outcomes = []
    for attempt, stop in enumerate(stops):
        index = tmp_path / f"index{attempt}"
        shutil.copytree(base, index)
        child, lines = start_child(f"event:{stop}", small_corpus, index, tmp_path / f"kill{attempt}.log")
        assert lines.until("PAUSE", 120).strip() == f"PAUSE event:{stop}"
        kill(child)
        data = still_answers(index)
        assert len(data.documents) == 3  # every point is before CURRENT is replaced
        committed = cached(index) - cached(base)
        outcomes.append((phases[stop - 1], committed))
        embedder = HashingEmbedder(64)
        report = build_index(small_corpus, index, embedder, progress=False)
        assert report.chunks_embedded == embedder.texts_embedded == extra - committed
        assert len(still_answers(index).documents) == 3 + extra
        shutil.rmtree(index)
    assert {phase for phase, _ in outcomes} == set(order), outcomes
    assert all(committed == 0 for phase, committed in outcomes if phase == "reading")  # nothing embedded yet
    assert len({committed for _, committed in outcomes}) > 1, outcomes  # the kills did land at different stages


# --- a full disk, for real ---------------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path):
    """Mounts a small tmpfs (a real file system that fills up) at a folder; needs root, else the test is skipped."""
    mounted: list[Path] = []

    def mount(folder: Path, size: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here ({proc.stderr.strip() or proc.returncode}); "
                        "test_a_failed_write_anywhere_leaves_the_previous_index covers the logic")
        mounted.append(folder)
        return folder

    yield mount
    for folder in reversed(mounted):
        subprocess.run(["umount", "-l", str(folder)], check=False)


def big_document(corpus: Path) -> None:
    """A 1.2 MB document: with its vectors and BM25, more than the 1 MB file systems below can hold."""
    (corpus / "big.txt").write_text("".join(f"Sentence {i} about rivers, seas and the weather in spring.\n"
                                            for i in range(20_000)))


def test_disk_full_during_a_rebuild_for_real(small_disk, small_corpus: Path, tmp_path: Path) -> None:
    """The whole index on a 1 MB file system: the cache fills it. One line, the old index answers, and once there
    is room the next build finishes without embedding again the blocks that were committed before the disk filled.
    """
    disk = small_disk(tmp_path / "disk", "1m")
    index = disk / "index"
    build_index(small_corpus, index, HashingEmbedder(64), progress=False)
    live, before = store.current_generation(index), cached(index)
    big_document(small_corpus)
    env = {**os.environ, "QA_MODEL": "hashing-64"}
    proc = subprocess.run([sys.executable, "-m", "qa", "index", "--corpus", str(small_corpus), "--index", str(index),
                           "-q"], capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == (f"qa: error: no space left on device while writing the index in {index}: free some space "
                           "(or pass --index on a disk with room), then run `qa index` again; the previous index is "
                           "intact and still answers\n")
    assert store.current_generation(index) == live
    still_answers(index)
    committed = cached(index) - before
    subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)  # the user frees space
    embedder = HashingEmbedder(64)
    report = build_index(small_corpus, index, embedder, progress=False)
    assert committed > 0 and report.chunks_embedded == embedder.texts_embedded == cached(index) - before - committed
    assert "big.txt" in {d.path for d in still_answers(index).documents}


def test_disk_full_while_writing_a_generation_for_real(small_disk, small_corpus: Path, tmp_path: Path) -> None:
    """Only the generations on a small file system: the write of the new generation fails and is cleaned up."""
    index = tmp_path / "index"
    build_index(small_corpus, index, HashingEmbedder(64), progress=False)
    live = store.current_generation(index)
    generations = index / "generations"
    saved = tmp_path / "saved"
    generations.rename(saved)
    small_disk(generations, "1m")
    for gen in saved.iterdir():
        shutil.copytree(gen, generations / gen.name)
    used = shutil.disk_usage(generations).used
    big_document(small_corpus)
    with pytest.raises(IndexWriteError, match="^no space left on device .*the previous index is intact"):
        build_index(small_corpus, index, HashingEmbedder(64), progress=False)
    assert store.current_generation(index) == live
    still_answers(index)
    assert not list(generations.glob(".tmp-*")) and shutil.disk_usage(generations).used == used


def test_upload_into_a_full_corpus_disk_is_refused_with_the_reason(small_disk, tmp_path: Path) -> None:
    from qa.serve.workspace import Workspace

    corpus = small_disk(tmp_path / "corpus", "64k")
    upload = tmp_path / "report.txt"
    upload.write_text("Rivers and seas. " * 10_000)  # 170 kB: more than the corpus disk holds
    ws = Workspace(tmp_path / "index", corpus, builder=HashingEmbedder(64))
    saved, refused = ws.add_files([(upload, "report.txt")])
    assert saved == [] and refused == [("report.txt", f"cannot save the upload into {corpus} (No space left on "
                                        "device): free some space or check the folder's permissions, then upload "
                                        "it again")]
    assert list(corpus.iterdir()) == []  # no partial file, no temporary file left


# --- write failures, simulated at each write -------------------------------------------------------------------


def _raise(error: BaseException):
    def fail(*args, **kwargs):
        raise error
    return fail


def _fail_write_of(name: str, error: OSError):
    real = Path.write_text

    def write_text(self: Path, *args, **kwargs):
        if self.name == name:
            raise error
        return real(self, *args, **kwargs)
    return write_text


NO_SPACE = OSError(errno.ENOSPC, "No space left on device")


def _failing_faiss_writer(callback):
    """FAISS's writer around a file that is full: the OSError has to come up through FAISS's C++."""
    return REAL_FAISS_WRITER(_raise(NO_SPACE))
NO_ACCESS = PermissionError(errno.EACCES, "Permission denied", "index/generations")
WRITES = {
    # what FAISS really raises on a full disk (measured on a 64 kB tmpfs)
    "faiss": ("faiss.PyCallbackIOWriter", _failing_faiss_writer),
    "vectors": ("numpy.save", _raise(NO_SPACE)),
    "chunk-table": ("numpy.savez", _raise(NO_SPACE)),
    "manifest": ("pathlib.Path.write_text", _fail_write_of("manifest.json", NO_SPACE)),
    "pointer": ("pathlib.Path.write_text", _fail_write_of(".CURRENT.tmp", NO_SPACE)),
    "rename": ("os.rename", _raise(NO_ACCESS)),
    "fsync": ("os.fsync", _raise(OSError(errno.EIO, "Input/output error"))),
    "cache": ("qa.embed.cache.EmbeddingCache.put_many", _raise(sqlite3.OperationalError("database or disk is full"))),
    "generation-folder": ("pathlib.Path.mkdir", _raise(NO_ACCESS)),
}
EXPECTED = {"vectors": "no space left", "chunk-table": "no space left", "manifest": "no space left",
            "pointer": "no space left", "rename": "permission denied", "fsync": "Input/output error",
            "cache": "no space left", "generation-folder": "permission denied", "faiss": "no space left"}


@pytest.mark.parametrize("where", list(WRITES))
def test_a_failed_write_anywhere_leaves_the_previous_index(where: str, small_corpus: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    index = tmp_path / "index"
    embedder = HashingEmbedder(64)
    build_index(small_corpus, index, embedder, progress=False)
    live = store.current_generation(index)
    (small_corpus / "comets.txt").write_text("Comets have icy nuclei and long tails.")
    monkeypatch.setattr(*WRITES[where])
    with pytest.raises(IndexWriteError, match=EXPECTED[where]) as error:
        build_index(small_corpus, index, embedder, progress=False)
    monkeypatch.undo()
    assert "run `qa index` again; the previous index is intact and still answers" in str(error.value)
    assert store.current_generation(index) == live
    assert not list((index / "generations").glob(".tmp-*"))
    still_answers(index)
    build_index(small_corpus, index, embedder, progress=False)  # and once the disk is fine, the build goes through
    assert len(store.load(index).documents) == 4


def test_first_build_on_a_full_disk_says_no_index_was_written(small_corpus: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("numpy.save", _raise(NO_SPACE))
    with pytest.raises(IndexWriteError, match="no space left on device.*; no index was written$"):
        build_index(small_corpus, tmp_path / "index", HashingEmbedder(64), progress=False)


def test_cache_keeps_committed_blocks_when_a_later_block_fails(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "c.sqlite", "m", 4)
    cache.put_many([(b"a", np.ones(4, np.float32))])
    with pytest.raises(sqlite3.Error):
        cache.put_many([(b"b", np.ones(4, np.float32)), (object(), np.ones(4, np.float32))])  # fails midway
    assert set(cache.get_many([b"a", b"b", b"c"])) == {b"a"}
    cache.close()


# --- two rebuilds at once ----------------------------------------------------------------------------------------


def test_a_second_qa_index_is_refused_while_one_runs(small_corpus: Path, tmp_path: Path) -> None:
    """Two real processes: the second exits 1 with one line; the first finishes; the index is the first's."""
    index = tmp_path / "index"
    build_index(small_corpus, index, HashingEmbedder(64), progress=False)
    add_extra_documents(small_corpus)
    first, lines = start_child("embedding", small_corpus, index, tmp_path / "first.log")  # holds the lock, paused
    assert lines.next().strip() == "START"
    assert lines.next(120).strip() == "PAUSE embedding"
    try:
        env = {**os.environ, "QA_MODEL": "hashing-64"}
        second = subprocess.run([sys.executable, "-m", "qa", "index", "--corpus", str(small_corpus), "--index",
                                 str(index), "-q"], capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
        assert second.returncode == 1 and second.stdout == ""
        assert second.stderr == (f"qa: error: another `qa index` is rebuilding {index}: wait for it to finish, "
                                 "then run this again\n")
    finally:
        kill(first)
    # with the first gone (killed), its lock is released by the OS: a new build runs and completes
    report = build_index(small_corpus, index, HashingEmbedder(64), progress=False)
    assert report.documents == 3 + EXTRA and len(still_answers(index).documents) == 3 + EXTRA


def test_lock_wait_is_an_option(small_corpus: Path, tmp_path: Path) -> None:
    from filelock import FileLock

    index = tmp_path / "index"
    index.mkdir()
    with FileLock(str(index / "build.lock")):
        started = time.perf_counter()
        with pytest.raises(IndexBusyError):
            build_index(small_corpus, index, HashingEmbedder(64), progress=False, lock_timeout=0.3)
        assert time.perf_counter() - started >= 0.3
