"""Frozen records that flow through the pipeline, each carrying its provenance.

A ``Passage`` can print its source label and location with no further lookup, and ``to_dict`` is the JSON
contract used by ``qa ask --json``, the app's ``/ask`` endpoint and the evaluation run files.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

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
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Document:
        data = dict(data)
        data["pages"] = tuple(data.get("pages", ()))
        data["sections"] = tuple((int(o), str(h)) for o, h in data.get("sections", ()))
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
class Result:
    question: str
    passages: tuple[Passage, ...]
    answer: Answer | None = None
    mode: str = DEFAULT_MODE  # the mode that found the passages
    timings_ms: dict[str, float] = field(default_factory=dict, compare=False)
    generation: str | None = None  # the index generation every passage came from
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
            "answer": self.answer.to_dict() if self.answer else None,
            "passages": [p.to_dict() for p in self.passages],
            "mode": self.mode,
            "generation": self.generation,
            "missing": list(self.missing),
        }
