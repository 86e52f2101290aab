"""``Assistant.load(dir).ask(question)``: the one entry point the CLI, the app and the evaluation call.

Example, over the seed corpus indexed into ``index/`` by ``qa index``::

    assistant = Assistant.load("index")
    result = assistant.ask("When did Russia withdraw its S-300 systems from Syria?", k=3)
    result.passages[0].publisher, result.passages[0].date  # ('Institute for the Study of War', '2024-11-30')
"""

from __future__ import annotations

import logging
import threading
import time
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qa.answer.followup import resolve
from qa.answer.selection import pick_answer
from qa.embed.embedders import Embedder, query_embedder
from qa.errors import REBUILD_HINT, IndexCorruptError, QAError, QuestionError
from qa.index import store
from qa.records import Document, Excerpt, Passage, Result, history_from
from qa.search.explain import Explanation, explain
from qa.search.filters import Filters
from qa.search.searcher import Hit, Searcher
from qa.settings import DEFAULT, MODES, Settings

log = logging.getLogger(__name__)
MAX_QUESTION_CHARS = 2000
EXCERPT_CONTEXT = 1000  # characters either side of a span that ``Assistant.excerpt`` shows by default
MAX_EXCERPT_CONTEXT = 20_000


def check_question(question: Any) -> str:
    """The question, stripped; QuestionError for anything that cannot be searched."""
    if not isinstance(question, str):
        raise QuestionError("the question must be text: type a question")
    question = "".join(ch for ch in question if unicodedata.category(ch)[0] != "C" or ch in "\t\n").strip()
    if not question:
        raise QuestionError("the question is empty: type a question")
    if not any(ch.isalnum() for ch in question):
        raise QuestionError("the question has no words, only punctuation or symbols: type a question in words")
    if len(question) > MAX_QUESTION_CHARS:
        raise QuestionError(
            f"the question is {len(question):,} characters long; the limit is {MAX_QUESTION_CHARS:,}: "
            "ask something shorter, or search for a key sentence of it"
        )
    return question


def check_mode(mode: Any) -> str:
    if mode not in MODES:
        raise QuestionError(f"search mode {mode!r} is unknown: use one of {', '.join(MODES)}")
    return mode


def check_k(k: Any, max_k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        try:
            k = int(str(k).strip())
        except ValueError:
            raise QuestionError(f"k must be a whole number, not {k!r}: use for example -k 5") from None
    if not 1 <= k <= max_k:
        raise QuestionError(f"k={k} is out of range: ask for between 1 and {max_k} passages")
    return int(k)


def check_offset(name: str, value: Any, length: int) -> int:
    """An offset into a document of ``length`` characters; QuestionError for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise QuestionError(f"{name} must be a whole number, not {value!r}: use a passage's start and end")
    if not 0 <= value <= length:
        raise QuestionError(f"{name}={value} is outside the document (0 to {length:,} characters): "
                            "use a passage's start and end")
    return int(value)


def document_passage(doc: Document, *, rank: int = 1, score: float = 1.0) -> Passage:
    """The whole of ``doc`` as one passage (no page or section: it may span several).

    For answer selection without retrieval, as if search were perfect: ``pick_answer(question, [passage])``.
    """
    return Passage(rank=rank, score=score, source=doc.source, title=doc.title, publisher=doc.publisher,
                   date=doc.date, path=doc.path, doc_id=doc.doc_id, chunk_id=doc.doc_id, start=0, end=len(doc.text),
                   page=None, section=None, text=doc.text)


class Assistant:
    def __init__(self, searcher: Searcher, embedder: Embedder, index_dir: Path, settings: Settings = DEFAULT, *,
                 loader: Callable[[Path], Searcher] = Searcher.load):
        self.searcher = searcher
        self.embedder = embedder
        self.index_dir = index_dir
        self.settings = settings
        self._loader = loader  # how a new generation is loaded: here, or its shards on a cluster
        self._reload_lock = threading.Lock()
        self._skipped: str | None = None  # a generation that failed to load; not tried again

    @property
    def data(self) -> store.IndexData:
        return self.searcher.data

    @classmethod
    def load(cls, index_dir: str | Path = "index", *, embedder: Embedder | None = None,
             settings: Settings = DEFAULT, cluster: str | None = None,
             shard_timeout: float | None = None) -> Assistant:
        """The live generation of ``index_dir``, searched in this process, or, given a Ray ``cluster`` address
        (``auto``, ``HOST:PORT``), a sharded generation whose shards are searched by actors on the cluster; a
        shard that has not answered within ``shard_timeout`` seconds (default ``qa.cluster.shards``'s) is named
        in the result's ``missing``."""
        index_dir = Path(index_dir)
        loader = Searcher.load
        if cluster is not None:
            from functools import partial

            from qa.cluster.shards import cluster_searcher

            loader = partial(cluster_searcher, address=cluster,
                             **({"timeout": shard_timeout} if shard_timeout is not None else {}))
        searcher = loader(index_dir)
        embedder = embedder or query_embedder(searcher.data.manifest.model)
        cls._check_model(searcher.data, embedder)
        return cls(searcher, embedder, index_dir, settings, loader=loader)

    @staticmethod
    def _check_model(data: store.IndexData, embedder: Embedder) -> None:
        model = data.manifest.model
        if model.fingerprint != embedder.fingerprint or model.dim != embedder.dim:
            raise IndexCorruptError(
                f"the index at {data.path.parent.parent} was embedded with a different model "
                f"({model.name}, {model.fingerprint}) than the one loaded "
                f"({embedder.name}, {embedder.fingerprint}): {REBUILD_HINT}"
            )

    def reload_if_changed(self) -> bool:
        """Pick up a generation swapped in by a rebuild; questions keep using the old one until it is loaded.

        A new generation that cannot be used (it fails its checks, or was replaced and pruned while loading) is
        logged once and skipped: questions go on being answered from the generation already loaded.
        """
        try:
            live = store.current_generation(self.index_dir)
        except QAError:
            live = None
        if live is None or live.name in (self.data.generation, self._skipped):
            return False
        with self._reload_lock:
            if live.name in (self.data.generation, self._skipped):
                return False
            try:
                searcher = self._loader(self.index_dir)
                self._check_model(searcher.data, self.embedder)
            except QAError as exc:
                self._skipped = live.name
                log.warning("still answering from %s: the new index cannot be used (%s)", self.data.generation, exc)
                return False
            self.searcher = searcher  # one assignment: a question in flight keeps the object it started with
            return True

    def ask(self, question: str, k: int | None = None, mode: str | None = None,
            filters: Filters | dict[str, Any] | None = None, *, answer: bool = True,
            history: Sequence[Any] | None = None) -> Result:
        """The k best passages for ``question``, one per document; ``mode`` is dense, lexical or hybrid
        (None: the settings' default), ``filters`` a ``Filters`` or a dict of its fields. Unless ``answer`` is
        False, the sentence in them that answers best is the result's ``answer``, highlighted in its passage.

        ``history`` holds the conversation's earlier turns, oldest first (``qa.records.history_from``: questions,
        or ``{"question", "answer"}`` objects with the JSON an earlier ``ask`` returned): a follow-up is searched
        as resolved against the previous turn (``qa.answer.followup``), and the result's ``searched_as`` says how.
        """
        question = check_question(question)
        k = check_k(self.settings.default_k if k is None else k, self.settings.max_k)
        mode = check_mode(self.settings.retrieval.mode if mode is None else mode)
        if not isinstance(filters, Filters):
            filters = Filters.from_dict(filters)
        resolution = resolve(question, history_from(history), self.settings.followup)
        searched = resolution.searched_as
        searcher = self.searcher
        started = time.perf_counter()
        vector = self.embedder.embed([searched])[0] if mode != "lexical" else None
        embedded = time.perf_counter()
        found = searcher.find(searched, vector, k, mode=mode, settings=self.settings.retrieval, filters=filters,
                              boost_docs=resolution.boost_docs, boost=self.settings.followup.boost)
        passages = tuple(self.passage(searcher.data, hit, rank) for rank, hit in enumerate(found.hits, 1))
        done = time.perf_counter()
        sentence = None
        if answer:
            sentence, passages = pick_answer(searched if self.settings.followup.answer_with_subject else question,
                                             passages)
        answered = time.perf_counter()
        timings = {"embed": (embedded - started) * 1000, "search": (done - embedded) * 1000,
                   "answer": (answered - done) * 1000}
        return Result(question=question, passages=passages, answer=sentence, mode=mode, timings_ms=timings,
                      generation=searcher.data.generation, searched_as=searched, missing=found.missing)

    def converse(self, questions: Sequence[str], **options: Any) -> list[Result]:
        """Each question asked in turn, with the results before it as its history (the last one may lean on the
        others); ``options`` as for ``ask``. For scripts: ``qa ask --after`` and ``qa eval``'s history field."""
        results: list[Result] = []
        for question in questions:
            results.append(self.ask(question, history=results, **options))
        return results

    def explain(self, question: str, doc: str, k: int | None = None,
                filters: Filters | dict[str, Any] | None = None) -> Explanation:
        """Why ``doc`` (a document id, or the path of a file holding one document) is or is not among the ``k``
        passages ``ask`` shows for ``question``: its rank and scores in every mode, and what filtered or collapsed
        it (``qa.search.explain``)."""
        question = check_question(question)
        k = check_k(self.settings.default_k if k is None else k, self.settings.max_k)
        if not isinstance(filters, Filters):
            filters = Filters.from_dict(filters)
        searcher = self.searcher
        vector = self.embedder.embed([question])[0]
        return explain(searcher, question, vector, self.document_index(searcher.data, doc),
                       self.settings.retrieval, filters, k)

    @staticmethod
    def document_index(data: store.IndexData, doc: str) -> int:
        """The row of document ``doc`` (its id, or the path of a file holding one document) in ``data``."""
        ids = [i for i, d in enumerate(data.documents) if d.doc_id == doc]
        paths = ids or [i for i, d in enumerate(data.documents) if d.path == doc]
        if len(paths) == 1:
            return paths[0]
        if paths:
            example = data.documents[paths[0]].doc_id
            raise QuestionError(f"{doc} holds {len(paths)} documents: name one by its id, e.g. --doc {example!r}")
        raise QuestionError(f"no document {doc!r} in the index: `qa status` lists the files, `qa ask --json` "
                            "names each passage's doc_id")

    @staticmethod
    def passage(data: store.IndexData, hit: Hit, rank: int) -> Passage:
        """The passage ``ask`` returns for a search hit in ``data`` at ``rank``: its chunk with provenance."""
        chunk = data.chunk(hit.row)
        doc = data.documents[int(data.chunks.doc[hit.row])]
        return Passage(
            rank=rank, score=round(hit.score, 6), source=doc.source, title=doc.title, publisher=doc.publisher,
            date=doc.date, path=doc.path, doc_id=doc.doc_id, chunk_id=chunk.chunk_id, start=chunk.start,
            end=chunk.end, page=chunk.page, section=chunk.section, text=chunk.text,
            also_in=tuple(data.documents[d].source for d in hit.also_in),
        )

    def excerpt(self, doc_id: str, start: int = 0, end: int | None = None, *,
                context: int = EXCERPT_CONTEXT) -> Excerpt:
        """The text of document ``doc_id`` around ``[start, end)`` (a passage's or an answer's offsets; ``end``
        defaults to ``start``), ``context`` characters either side, from the live generation."""
        doc = self.data.document(doc_id) if isinstance(doc_id, str) else None
        if doc is None:
            raise QuestionError(f"there is no document {doc_id!r} in the index: use the doc_id of a passage "
                                "that ask or search returned")
        start = check_offset("start", start, len(doc.text))
        end = check_offset("end", start if end is None else end, len(doc.text))
        if end < start:
            raise QuestionError(f"end={end} is before start={start}: swap them")
        if isinstance(context, bool) or not isinstance(context, int | np.integer) or not (
                0 <= context <= MAX_EXCERPT_CONTEXT):
            raise QuestionError(f"context={context!r} must be a whole number of characters from 0 to "
                                f"{MAX_EXCERPT_CONTEXT:,}")
        return Excerpt.around(doc, start, end, context=int(context))

    def info(self) -> dict[str, Any]:
        """What the index holds, for the app's panel and `qa info`."""
        manifest = self.data.manifest
        return {
            "index": str(self.index_dir),
            "generation": self.data.generation,
            "documents": manifest.counts.documents,
            "chunks": manifest.counts.chunks,
            "model": manifest.model.name,
            "built_at": manifest.built_at,
            "sources": sorted({(d.source, d.path) for d in self.data.documents}),
        }
