"""What the chat does, without the page: ask with filters, rebuild, add uploads, record ratings.

One ``Workspace`` per server, shared by all browser sessions. Questions always use the generation the
``Assistant`` holds; a rebuild (one at a time) writes a new generation beside it, and the next question picks it up
with ``reload_if_changed`` — so questions asked during a rebuild are answered from the current index, and the new
one is used as soon as it is swapped in, without a restart.
"""

from __future__ import annotations

import inspect
import re
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from qa import store
from qa.assistant import Assistant, check_k
from qa.build import BuildReport, build_index
from qa.embedding import PACKAGED_MODEL, Embedder, embedder_for
from qa.errors import IndexBusyError, IndexMissingError, QuestionError, UploadError
from qa.feedback import append_feedback
from qa.records import Passage, Result
from qa.settings import DEFAULT, Settings
from qa.uploads import DEFAULT_MAX_BYTES, Saved, check_upload, save_upload

_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


def check_date(value: Any, name: str) -> str | None:
    """``"2024"``, ``"2024-11"`` or ``"2024-11-30"`` (or nothing); QuestionError for anything else."""
    text = str(value or "").strip()
    if not text:
        return None
    if not _DATE.match(text):
        raise QuestionError(f"the {name} date {text!r} is not a date: write it as YYYY-MM-DD, YYYY-MM or YYYY")
    return text


@dataclass(frozen=True)
class Filters:
    """Which passages a question may return: from these source labels, dated within ``[date_from, date_to]``.

    Dates compare on the precision both sides have, so a document dated ``2024`` is inside ``2024-06``-``2024-12``.
    A document without a date is left out as soon as a date bound is set.
    """

    sources: tuple[str, ...] = ()
    date_from: str | None = None
    date_to: str | None = None

    def __post_init__(self) -> None:
        if self.date_from and self.date_to and self.date_from[:len(self.date_to)] > self.date_to[:len(self.date_from)]:
            raise QuestionError(f"the date range {self.date_from} to {self.date_to} is empty: swap the two dates")

    def __bool__(self) -> bool:
        return bool(self.sources or self.date_from or self.date_to)

    def matches(self, passage: Passage) -> bool:
        if self.sources and passage.source not in self.sources:
            return False
        if self.date_from or self.date_to:
            date = passage.date or ""
            if not date:
                return False
            if self.date_from and date[:len(self.date_from)] < self.date_from[:len(date)]:
                return False
            if self.date_to and date[:len(self.date_to)] > self.date_to[:len(date)]:
                return False
        return True


class Workspace:
    def __init__(self, index_dir: Path, corpus_dir: Path, *, assistant: Assistant | None = None,
                 model: str | None = None, builder: Embedder | None = None, settings: Settings = DEFAULT,
                 max_upload_bytes: int = DEFAULT_MAX_BYTES):
        self.index_dir = Path(index_dir)
        self.corpus_dir = Path(corpus_dir)
        self.settings = settings
        self.max_upload_bytes = max_upload_bytes
        self._assistant = assistant
        self._model = model
        self._builder = builder
        self._load_lock = threading.Lock()
        self._build_lock = threading.Lock()

    # -- the index ---------------------------------------------------------------------------------------------
    @property
    def assistant(self) -> Assistant | None:
        """The loaded index (its manifest names the model), loaded once it exists; None while there is none."""
        if self._assistant is None and store.current_generation(self.index_dir) is not None:
            with self._load_lock:
                if self._assistant is None:
                    self._assistant = Assistant.load(self.index_dir, settings=self.settings)
        return self._assistant

    def _build_embedder(self) -> Embedder:
        # subtle: the builder gets its own model instance, so a question never waits for a rebuild's batch
        if self._builder is None:
            assistant = self.assistant
            name = self._model or (assistant.data.manifest["model"]["name"] if assistant else PACKAGED_MODEL)
            self._builder = embedder_for(name)
        return self._builder

    def info(self) -> dict[str, Any] | None:
        assistant = self.assistant
        if assistant is None:
            return None
        assistant.reload_if_changed()
        return assistant.info()

    @property
    def building(self) -> bool:
        return self._build_lock.locked()

    def rebuild(self, *, full: bool = False, progress: bool = True) -> BuildReport:
        """Bring the index up to date with the corpus; IndexBusyError while another rebuild runs."""
        if not self._build_lock.acquire(blocking=False):
            raise IndexBusyError("a rebuild is already running: wait for it to finish, then try again")
        try:
            self.corpus_dir.mkdir(parents=True, exist_ok=True)
            report = build_index(self.corpus_dir, self.index_dir, self._build_embedder(), settings=self.settings,
                                 full=full, progress=progress)
        finally:
            self._build_lock.release()
        if self.assistant is not None:
            self.assistant.reload_if_changed()
        return report

    def ensure_index(self, *, progress: bool = True) -> BuildReport | None:
        """Build the index from the corpus when there is none yet (the first start)."""
        if store.current_generation(self.index_dir) is not None:
            return None
        return self.rebuild(progress=progress)

    # -- questions ---------------------------------------------------------------------------------------------
    def modes(self) -> tuple[str, ...]:
        """The retrieval modes the loaded Assistant offers (dense only until it takes a ``mode``)."""
        from qa import settings

        if "mode" in inspect.signature(Assistant.ask).parameters:
            return tuple(getattr(settings, "MODES", ("dense",)))
        return ("dense",)

    def default_mode(self) -> str:
        mode = getattr(getattr(self.settings, "retrieval", None), "mode", "dense")
        return mode if mode in self.modes() else self.modes()[0]

    def ask(self, question: str, k: Any = None, *, mode: str | None = None, filters: Filters = Filters()) -> Result:
        assistant = self.assistant
        if assistant is None:
            raise IndexMissingError("there is no index yet: add documents in the Documents tab, then ask again")
        assistant.reload_if_changed()
        k = check_k(self.settings.default_k if k in (None, "") else k, self.settings.max_k)
        options: dict[str, Any] = {}
        if mode:
            if mode not in self.modes():
                raise QuestionError(f"retrieval mode {mode!r} is not available: use one of {', '.join(self.modes())}")
            if mode != "dense" or "mode" in inspect.signature(assistant.ask).parameters:
                options["mode"] = mode
        if not filters:
            return assistant.ask(question, k=k, **options)
        # Filters applied to a deep ranking, so k passages come back whenever k match.
        result = assistant.ask(question, k=self.settings.max_k, **options)
        kept = [p for p in result.passages if filters.matches(p)][:k]
        passages = tuple(p if p.rank == rank else replace(p, rank=rank) for rank, p in enumerate(kept, 1))
        answer, new_rank = result.answer, {p.chunk_id: p.rank for p in passages}
        if answer is not None:
            chunk = next(p.chunk_id for p in result.passages if p.rank == answer.passage_rank)
            answer = replace(answer, passage_rank=new_rank[chunk]) if chunk in new_rank else None
        return Result(question=result.question, passages=passages, answer=answer, mode=result.mode,
                      timings_ms=result.timings_ms)

    def sources(self) -> list[str]:
        info = self.info()
        return sorted({source for source, _ in info["sources"]}) if info else []

    # -- uploads and ratings -----------------------------------------------------------------------------------
    def add_files(self, files: list[tuple[Path, str]]) -> tuple[list[Saved], list[tuple[str, str]]]:
        """Save uploaded files (temporary path, name the browser sent) into the corpus; nothing is overwritten."""
        saved: list[Saved] = []
        refused: list[tuple[str, str]] = []
        for path, name in files:
            try:
                check_upload(name, Path(path).stat().st_size, self.max_upload_bytes)  # before reading it all
                saved.append(save_upload(Path(path).read_bytes(), name, self.corpus_dir, self.max_upload_bytes))
            except (UploadError, OSError) as exc:
                refused.append((name, str(exc) if isinstance(exc, UploadError) else f"cannot read the upload ({exc})"))
        return saved, refused

    def record_feedback(self, record: dict[str, Any]) -> Path:
        return append_feedback(self.index_dir, record)

