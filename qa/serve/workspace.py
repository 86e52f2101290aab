"""What the chat does, without the page: ask with filters, rebuild, add uploads, record ratings.

One ``Workspace`` per server, shared by all browser sessions. Questions always use the generation the
``Assistant`` holds; a rebuild (one at a time) writes a new generation beside it, and the next question picks it up
with ``reload_if_changed`` — so questions asked during a rebuild are answered from the current index, and the new
one is used as soon as it is swapped in, without a restart.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qa.assistant import Assistant
from qa.embed.embedders import Embedder, embedder_for
from qa.errors import IndexBusyError, IndexMissingError, UploadError
from qa.index import store
from qa.index.build import BuildReport, build_index
from qa.index.ledger import Ledger, read_ledger
from qa.records import Excerpt, Result
from qa.search.explain import Explanation
from qa.search.filters import Filters
from qa.search.searcher import Searcher
from qa.serve.feedback import append_feedback
from qa.serve.uploads import DEFAULT_MAX_BYTES, Saved, check_upload, save_upload
from qa.serve.watch import QUIET_SECONDS, CorpusWatcher
from qa.settings import DEFAULT, Settings


class Workspace:
    def __init__(self, index_dir: Path, corpus_dir: Path, *, assistant: Assistant | None = None,
                 model: str | None = None, builder: Embedder | None = None, settings: Settings = DEFAULT,
                 max_upload_bytes: int = DEFAULT_MAX_BYTES, cluster: str | None = None):
        self.index_dir = Path(index_dir)
        self.corpus_dir = Path(corpus_dir)
        self.settings = settings
        self.max_upload_bytes = max_upload_bytes
        self._assistant = assistant
        self._model = model or None  # an empty QA_MODEL means none was named
        self._builder = builder
        self._load_lock = threading.Lock()
        self._build_lock = threading.Lock()
        self.watcher: CorpusWatcher | None = None
        self.cluster = cluster  # a Ray cluster's address: the shards are answered there

    # -- the index ---------------------------------------------------------------------------------------------
    @property
    def assistant(self) -> Assistant | None:
        """The loaded index (its manifest names the model), loaded once it exists; None while there is none."""
        if self._assistant is None and store.current_generation(self.index_dir) is not None:
            with self._load_lock:
                if self._assistant is None:
                    self._assistant = Assistant.load(self.index_dir, settings=self.settings,
                                                     cluster=self.cluster)
        return self._assistant

    def _build_embedder(self) -> Embedder:
        # subtle: the builder gets its own model instance, so a question never waits for a rebuild's batch
        if self._builder is None:
            assistant = self.assistant
            built_with = assistant.data.manifest.model.name if assistant else None
            self._builder = embedder_for(self._model, built_with=built_with)
        return self._builder

    def warm_up(self) -> None:
        """Load the model that embeds questions now (when there is an index), not on the first question."""
        assistant = self.assistant
        if assistant is not None:
            assistant.embedder.embed(["warm up"])

    @property
    def default_mode(self) -> str:
        """The retrieval mode a question uses unless it names one."""
        return self.settings.retrieval.mode

    def info(self) -> dict[str, Any] | None:
        assistant = self.assistant
        if assistant is None:
            return None
        assistant.reload_if_changed()
        return assistant.info()

    def ledger(self) -> Ledger:
        """The live generation's ledger: every corpus file and what the build did with it."""
        return read_ledger(self.index_dir)

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

    def watch(self, quiet_seconds: float = QUIET_SECONDS) -> CorpusWatcher:
        """Rebuild whenever the corpus folder changes (``qa serve --watch``), in a background thread; questions
        keep being answered from the live generation until the new one is swapped in."""
        if self.watcher is None:
            self.watcher = CorpusWatcher(self.corpus_dir, lambda: self.rebuild(progress=False),
                                         quiet_seconds=quiet_seconds).start()
        return self.watcher

    def ensure_index(self, *, progress: bool = True) -> BuildReport | None:
        """Build the index from the corpus when there is none yet (the first start)."""
        if store.current_generation(self.index_dir) is not None:
            return None
        return self.rebuild(progress=progress)

    # -- questions ---------------------------------------------------------------------------------------------
    def live_assistant(self) -> Assistant:
        """The assistant over the live generation (picked up here if a rebuild swapped one in)."""
        assistant = self.assistant
        if assistant is None:
            raise IndexMissingError("there is no index yet: add documents in the Documents tab, then ask again")
        assistant.reload_if_changed()
        return assistant

    def ask(self, question: str, k: Any = None, *, mode: str | None = None,
            filters: Filters | dict[str, Any] | None = None, history: Sequence[Any] | None = None,
            answer: bool = True) -> Result:
        """``Assistant.ask`` on the live generation; ``history`` the conversation's earlier turns, oldest first
        (``qa.records.history_from``)."""
        return self.live_assistant().ask(question, k=None if k in (None, "") else k, mode=mode or None,
                                         filters=filters, history=history, answer=answer)

    def searcher(self) -> Searcher:
        """The live generation's searcher, for the viewer."""
        return self.live_assistant().searcher

    def explain(self, question: str, doc: str, k: Any = None,
                filters: Filters | dict[str, Any] | None = None) -> Explanation:
        """``Assistant.explain`` on the live generation."""
        return self.live_assistant().explain(question, doc, k=None if k in (None, "") else k, filters=filters)

    def excerpt(self, doc_id: str, start: int = 0, end: int | None = None, *, context: int | None = None
                ) -> Excerpt:
        """``Assistant.excerpt`` on the live generation: the text of a document around a span."""
        more = {} if context is None else {"context": context}
        return self.live_assistant().excerpt(doc_id, start, end, **more)

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
                refused.append((name, str(exc) if isinstance(exc, UploadError) else
                                f"cannot save the upload into {self.corpus_dir} ({exc.strerror or exc}): "
                                "free some space or check the folder's permissions, then upload it again"))
        return saved, refused

    def record_feedback(self, record: dict[str, Any]) -> Path:
        return append_feedback(self.index_dir, record)

