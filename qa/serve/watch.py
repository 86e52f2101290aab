"""A corpus that indexes itself: watch the folder, wait until the files stop changing, rebuild, swap.

``watchfiles`` (inotify on Linux, FSEvents, ReadDirectoryChangesW: a well-kept Rust core) reports added, changed
and removed paths; a rename is a removal and an addition, and the incremental build finds the moved text by
content, so nothing is embedded again. Events are batched: a rebuild starts only once no relevant event has come
for ``quiet_seconds``, so a file copied in slowly is read once, whole, and a folder of hundreds of files moved in
is one rebuild. Editors' temporary files (``.x.swp``, ``x~``, ``.#x``, ``#x#``, ``x.tmp``, vim's ``4913``, ...)
never start one. The rebuild writes a new generation beside the live one: questions keep being answered from the
old one until it is swapped in (``qa.serve.workspace``).

>>> [is_temporary(name) for name in (".notes.md.swp", "notes.md~", ".#notes.md", "#notes.md#", "4913",
...                                  "draft.tmp", "report.pdf.crdownload", "notes.md", "2024.txt")]
[True, True, True, True, True, True, True, False, False]
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from qa.errors import IndexBusyError, QAError
from qa.index.build import BuildReport

log = logging.getLogger(__name__)

QUIET_SECONDS = 2.0  # how long the corpus must be still before a rebuild starts
_TEMPORARY = re.compile(r"^[.#]|~$|^\d+$|\.(swp|swx|swo|tmp|temp|part|partial|crdownload|download|lock)$",
                        re.IGNORECASE)
_TICK_MS = 100  # how often the watcher looks whether the corpus has been quiet long enough


def is_temporary(name: str) -> bool:
    """Whether a file name is an editor's or a download's scratch file (or hidden), never a document."""
    return bool(_TEMPORARY.search(name))


def relevant(path: Path, root: Path) -> bool:
    """Whether a change at ``path`` can change the index: not under a hidden folder, not a scratch file."""
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return False
    return bool(parts) and not any(part.startswith(".") for part in parts[:-1]) and not is_temporary(parts[-1])


@dataclass(frozen=True)
class WatchState:
    """What the watcher is doing, for the page and the terminal."""

    watching: bool = False
    waiting: tuple[str, ...] = ()  # changes seen, rebuild not started yet ("added notes.md")
    rebuilding: tuple[str, ...] = ()  # changes the running rebuild is for
    last_changes: tuple[str, ...] = ()  # what the last finished rebuild was for
    report: BuildReport | None = None  # the last finished rebuild's report
    error: str | None = None  # why the last rebuild failed, if it did
    rebuilds: int = 0
    finished_at: float | None = None  # time.time() of the last finished rebuild


@dataclass
class CorpusWatcher:
    """Calls ``rebuild`` once the corpus has been still for ``quiet_seconds`` after a relevant change."""

    corpus_dir: Path
    rebuild: Callable[[], BuildReport]
    quiet_seconds: float = QUIET_SECONDS
    on_report: Callable[[WatchState], None] | None = None  # called after each rebuild (the CLI prints it)
    state: WatchState = field(default_factory=WatchState)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> CorpusWatcher:
        """Watch in a daemon thread until ``stop``."""
        self.corpus_dir.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self.run, name="qa-watch", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        """Watch until ``stop`` (blocking): batch changes, rebuild once the corpus is quiet."""
        import watchfiles

        root = self.corpus_dir.resolve()
        self.corpus_dir.mkdir(parents=True, exist_ok=True)
        pending: dict[str, str] = {}  # relative path -> what happened to it last
        last_event = 0.0
        self.state = replace(self.state, watching=True)
        try:
            for changes in watchfiles.watch(root, watch_filter=lambda _, path: relevant(Path(path), root),
                                            stop_event=self._stop, step=50, debounce=400, rust_timeout=_TICK_MS,
                                            yield_on_timeout=True, raise_interrupt=False):
                for change, path in changes:
                    pending[Path(path).relative_to(root).as_posix()] = _WORDS[change.name]
                if changes:
                    last_event = time.monotonic()
                    self.state = replace(self.state, waiting=_described(pending))
                elif pending and time.monotonic() - last_event >= self.quiet_seconds and self._rebuilt(pending):
                    pending = {}
        finally:
            self.state = replace(self.state, watching=False)

    def _rebuilt(self, pending: dict[str, str]) -> bool:
        """Rebuild for ``pending``; False when another rebuild holds the index (the changes stay pending)."""
        changes = _described(pending)
        self.state = replace(self.state, waiting=(), rebuilding=changes)
        report, error = None, None
        try:
            report = self.rebuild()
        except IndexBusyError:
            self.state = replace(self.state, waiting=changes, rebuilding=())
            return False
        except QAError as exc:  # e.g. the last document was removed: said on the page, the old index answers
            error = str(exc)
        except Exception as exc:  # a bug must not stop the watching
            log.exception("rebuild after a corpus change failed")
            error = f"unexpected {type(exc).__name__}: {exc}"
        self.state = replace(self.state, rebuilding=(), last_changes=changes, report=report, error=error,
                             rebuilds=self.state.rebuilds + 1, finished_at=time.time())
        if self.on_report is not None:
            self.on_report(self.state)
        return True


_WORDS = {"added": "added", "modified": "changed", "deleted": "removed"}


def _described(pending: dict[str, str]) -> tuple[str, ...]:
    """``("added notes.md", "removed old.md")``, by path."""
    return tuple(f"{what} {path}" for path, what in sorted(pending.items()))
