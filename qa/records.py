"""Frozen records that flow through the pipeline, each carrying its provenance.

A ``Passage`` can print its source label and location with no further lookup, and ``to_dict`` is the JSON
contract used by ``qa ask --json``, the app's ``/ask`` endpoint and the evaluation run files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from qa.errors import QuestionError
from qa.settings import DEFAULT_MODE


def source_label(title: str, publisher: str | None, date: str | None) -> str:
    """``"Title · Publisher · 2024-11-30"``, leaving out what is unknown."""
    return " · ".join(part for part in (title, publisher, date) if part)


@dataclass(frozen=True, slots=True)  # slots: an index holds one per document (a million, at scale)
class Document:
    """One document read from the corpus.

    ``doc_id`` is unique in the corpus: the path relative to the corpus root (posix), and for a ``.jsonl``
    collection ``"path#_id"``. ``pages[i]`` is the character offset where page ``i + 1`` starts (PDF only);
    ``sections`` holds ``(offset, heading)`` pairs in document order.

    ``notes`` says how the reader got the text when that is worth recording (``"OCR (Tesseract, eng) of pages 1-2,
    confidence 93"``): one line each, what a per-file ledger shows. Where each word lies on its page (PDFs, scanned
    pages included) is not kept here but in the reader's ``layouts`` (``qa.ingest.layout``).
    """

    doc_id: str
    path: str
    text: str
    title: str
    publisher: str | None = None
    date: str | None = None
    url: str | None = None
    external_id: str | None = None
    pages: tuple[int, ...] = ()
    sections: tuple[tuple[int, str], ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def source(self) -> str:
        return source_label(self.title, self.publisher, self.date)

    def page_at(self, offset: int) -> int | None:
        """1-based page holding ``offset``, or None for documents without pages."""
        page = None
        for number, start in enumerate(self.pages, 1):
            if start > offset:
                break
            page = number
        return page

    def section_at(self, offset: int) -> str | None:
        """The heading of the section holding ``offset``, if any."""
        heading = None
        for start, title in self.sections:
            if start > offset:
                break
            heading = title
        return heading

    def to_dict(self) -> dict[str, Any]:
        """Empty ``notes`` are left out: a document read before they existed keeps its fingerprint."""
        data = asdict(self)
        if not data["notes"]:
            del data["notes"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Document:
        data = dict(data)
        data["pages"] = tuple(data.get("pages", ()))
        data["sections"] = tuple((int(o), str(h)) for o, h in data.get("sections", ()))
        data["notes"] = tuple(str(note) for note in data.get("notes", ()))
        return cls(**data)


@dataclass(frozen=True)
class Chunk:
    """A span of a document: ``text == document.text[start:end]`` always holds."""

    chunk_id: str
    doc_id: str
    index: int
    start: int
    end: int
    text: str
    page: int | None = None
    section: str | None = None


def _with_file_key(data: dict[str, Any]) -> dict[str, Any]:
    """The JSON of a passage or an answer names its document's file ``file``, not ``path``.

    subtle: gradio_client takes every dict with a string ``"path"`` in an API result for a file to download, so a
    passage keyed ``path`` made ``Client(url).predict(..., api_name="/ask")`` fail with 403 (issue 12).
    """
    return {("file" if key == "path" else key): value for key, value in data.items()}


@dataclass(frozen=True)
class Passage:
    """A ranked search hit with everything needed to show and cite it."""

    rank: int
    score: float
    source: str
    title: str
    publisher: str | None
    date: str | None
    path: str
    doc_id: str
    chunk_id: str
    start: int
    end: int
    page: int | None
    section: str | None
    text: str
    also_in: tuple[str, ...] = ()
    highlight: tuple[int, int] | None = None  # answer span, offsets relative to ``text``

    def to_dict(self) -> dict[str, Any]:
        data = _with_file_key(asdict(self))
        data["also_in"] = list(self.also_in)
        data["highlight"] = list(self.highlight) if self.highlight else None
        return data


@dataclass(frozen=True)
class Answer:
    """The sentence (or span) that answers the question; offsets are in the source document."""

    text: str
    source: str
    path: str
    doc_id: str
    start: int
    end: int
    score: float
    passage_rank: int

    def to_dict(self) -> dict[str, Any]:
        return _with_file_key(asdict(self))


@dataclass(frozen=True)
class Excerpt:
    """The text of a document around a span (``start``/``end``, offsets into the document, as a passage has them):
    ``text == document.text[text_start:text_end]`` and the span is ``text[start - text_start:end - text_start]``.

    Example::

        >>> doc = Document("a.txt", "a.txt", "One. Two three. Four.", "A")
        >>> excerpt = Excerpt.around(doc, 5, 15, context=5)
        >>> excerpt.text, excerpt.text[excerpt.start - excerpt.text_start:excerpt.end - excerpt.text_start]
        ('One. Two three. Four', 'Two three.')
    """

    doc_id: str
    path: str
    source: str
    title: str
    publisher: str | None
    date: str | None
    url: str | None
    start: int
    end: int
    text_start: int
    text_end: int
    length: int  # of the whole document, in characters
    page: int | None
    section: str | None
    text: str

    @classmethod
    def around(cls, doc: Document, start: int, end: int, *, context: int) -> Excerpt:
        """``context`` characters either side of ``doc.text[start:end]``, clipped to the document."""
        text_start, text_end = max(0, start - context), min(len(doc.text), end + context)
        return cls(doc_id=doc.doc_id, path=doc.path, source=doc.source, title=doc.title, publisher=doc.publisher,
                   date=doc.date, url=doc.url, start=start, end=end, text_start=text_start, text_end=text_end,
                   length=len(doc.text), page=doc.page_at(start), section=doc.section_at(start),
                   text=doc.text[text_start:text_end])

    def to_dict(self) -> dict[str, Any]:
        return _with_file_key(asdict(self))


@dataclass(frozen=True)
class Result:
    question: str
    passages: tuple[Passage, ...]
    answer: Answer | None = None
    mode: str = DEFAULT_MODE  # the mode that found the passages
    timings_ms: dict[str, float] = field(default_factory=dict, compare=False)
    generation: str | None = None  # the index generation every passage came from
    searched_as: str | None = None  # what was searched: the question resolved against the history (None: as asked)
    missing: tuple[str, ...] = ()  # parts of the corpus not searched (shards that did not answer in time)

    @property
    def missing_note(self) -> str | None:
        """What the faces say when part of the corpus was not searched; None when all of it was."""
        if not self.missing:
            return None
        return ("Part of the corpus is missing from this answer (it did not answer in time): "
                f"{'; '.join(self.missing)}. Ask again in a moment for an answer from all of it.")

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "searched_as": self.searched_as or self.question,
            "answer": self.answer.to_dict() if self.answer else None,
            "passages": [p.to_dict() for p in self.passages],
            "mode": self.mode,
            "generation": self.generation,
            "missing": list(self.missing),
        }


# What the ingestion ledger says a build did with a file. Open-ended: a reader may record its own status (an OCR
# reader, say), and anything but INDEXED and UNCHANGED counts as a problem.
INDEXED, UNCHANGED = "indexed", "unchanged"
SKIPPED, UNREADABLE, TOO_BIG, NEEDS_OCR = "skipped", "unreadable", "too big", "needs OCR"
LEDGER_STATUSES = (INDEXED, UNCHANGED, SKIPPED, UNREADABLE, TOO_BIG, NEEDS_OCR)


@dataclass(frozen=True)
class LedgerEntry:
    """One corpus file in the ingestion ledger: what the build did with it, why, and what it cost.

    ``generation`` is the generation that last read the file (for an ``unchanged`` file, an earlier one);
    ``reason`` is empty for a file indexed whole, else the message the build reported for it.

    >>> entry = LedgerEntry("scan.pdf", NEEDS_OCR, "PDF has no text layer", reader="pdf")
    >>> entry.problem, LedgerEntry.from_dict(entry.to_dict()) == entry
    (True, True)
    """

    path: str
    status: str
    reason: str = ""
    reader: str = ""
    documents: int = 0
    chunks: int = 0
    seconds: float = 0.0
    generation: str = ""

    @property
    def problem(self) -> bool:
        """Whether the file is not (wholly) in the index: every status but indexed and unchanged, or a reason."""
        return self.status not in (INDEXED, UNCHANGED) or bool(self.reason)

    def to_dict(self) -> dict[str, Any]:
        return _with_file_key(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LedgerEntry:
        data = dict(data)
        data["path"] = data.pop("file", data.get("path"))
        return cls(**data)


@dataclass(frozen=True)
class Turn:
    """An earlier question of a conversation and what is known of its answer, for resolving a follow-up.

    ``searched_as`` is what the question was searched as (itself a resolved follow-up, perhaps), ``answer`` the
    answer sentence and ``cited`` the documents (``doc_id``) of the passages shown for it.
    """

    question: str
    searched_as: str | None = None
    answer: str | None = None
    cited: tuple[str, ...] = ()

    @classmethod
    def from_value(cls, value: Any, position: int = 1) -> Turn:
        """A turn from a question (``str``), a ``Result``, a ``Turn`` or a JSON object
        ``{"question": str, "answer": <the JSON of qa ask --json, or omitted>}``."""
        if isinstance(value, Turn):
            return value
        if isinstance(value, Result):
            value = {"question": value.question, "answer": value.to_dict()}
        if isinstance(value, str):
            value = {"question": value}
        if not isinstance(value, dict) or not isinstance(value.get("question"), str):
            raise QuestionError(f"history turn {position} is neither a question nor {{\"question\": ..., "
                                "\"answer\": ...}: give each earlier turn as its question text or such an object")
        answer = value.get("answer")
        if answer is None:
            return cls(value["question"])
        if not isinstance(answer, dict):
            raise QuestionError(f"history turn {position} has an answer that is not the JSON object qa ask "
                                "returned: pass that object, or leave the answer out")
        sentence = answer.get("answer") if isinstance(answer.get("answer"), dict) else {}
        passages = [p for p in answer.get("passages") or () if isinstance(p, dict)]
        return cls(value["question"], searched_as=answer.get("searched_as") or None, answer=sentence.get("text"),
                   cited=tuple(str(p["doc_id"]) for p in passages if p.get("doc_id") is not None))


def history_from(value: Sequence[Any] | None) -> tuple[Turn, ...]:
    """The earlier turns of a conversation, oldest first, from what the Python API, the CLI and JSON clients pass.

    >>> turns = history_from(["Who met Kim Jong Un?", {"question": "Where?", "answer": {"searched_as": "Where? Kim",
    ...     "answer": {"text": "In Pyongyang."}, "passages": [{"doc_id": "isw.md"}]}}])
    >>> turns[0].answer, turns[1].searched_as, turns[1].answer, turns[1].cited
    (None, 'Where? Kim', 'In Pyongyang.', ('isw.md',))
    """
    if value is None:
        return ()
    if isinstance(value, str | dict) or not isinstance(value, Sequence):
        raise QuestionError("the history must be a list of earlier turns, oldest first: each a question or "
                            "{\"question\": ..., \"answer\": ...}")
    return tuple(Turn.from_value(turn, position) for position, turn in enumerate(value, 1))
