"""The JSON API's requests and responses, as pydantic models: FastAPI reads requests through them and describes
every route with them in ``/openapi.json``.

Responses are not built from these models: a route returns ``Result.to_dict()`` (the object `qa ask --json` prints)
as it is, and the models only describe it, so the API cannot drift from the CLI's JSON while its description is
checked against what the server really sends (tests/test_http_api.py runs schemathesis over it). Response models
allow extra fields, so a field added to the JSON later is still a valid response.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from qa.settings import DEFAULT

Mode = Literal["dense", "lexical", "hybrid"]
MAX_DOCUMENTS_PAGE = 1000


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is an error, not silently ignored


class _Response(BaseModel):
    model_config = ConfigDict(extra="allow")


class AskFilters(_Request):
    """Which documents a question may draw on (all of them when empty)."""

    source: str | None = Field(None, description="text in the source label (title · publisher · date) or publisher")
    date_from: str | None = Field(None, description="ISO date (YYYY, YYYY-MM or YYYY-MM-DD), inclusive; undated "
                                                    "documents are left out when a date is set")
    date_to: str | None = Field(None, description="ISO date, inclusive")
    path: str | None = Field(None, description="glob on the document's file, e.g. reports/*.pdf")


class Turn(_Request):
    """An earlier question of the conversation, with the answer object it got (optional)."""

    question: str
    answer: dict[str, Any] | None = Field(None, description="the object /api/ask returned for it")


class AskRequest(_Request):
    question: str = Field(description="the question, in words")
    k: int | None = Field(None, ge=1, le=DEFAULT.max_k, description=f"passages (default {DEFAULT.default_k})")
    mode: Mode | None = Field(None, description=f"search mode (default {DEFAULT.retrieval.mode})")
    filters: AskFilters | None = None
    history: list[Turn | str] = Field(default_factory=list, description="earlier turns, oldest first, for a "
                                                                         "follow-up question")

    def filter_dict(self) -> dict[str, Any]:
        return self.filters.model_dump(exclude_none=True) if self.filters else {}

    def history_list(self) -> list[Any]:
        return [turn.model_dump() if isinstance(turn, Turn) else turn for turn in self.history]


class PassageOut(_Response):
    rank: int
    score: float
    source: str
    title: str
    publisher: str | None
    date: str | None
    file: str = Field(description="the document's file, relative to the corpus folder")
    doc_id: str
    chunk_id: str
    start: int = Field(description="character offset of the passage in the document")
    end: int
    page: int | None
    section: str | None
    text: str
    also_in: list[str] = Field(description="source labels of documents holding the same text")
    highlight: list[int] | None = Field(description="the answer's [start, end] in the passage's text")


class AnswerOut(_Response):
    text: str
    source: str
    file: str
    doc_id: str
    start: int = Field(description="character offset of the answer in the document")
    end: int
    score: float = Field(description="estimated probability that the sentence holds the answer")
    passage_rank: int


class AskResult(_Response):
    """What `qa ask --json` prints."""

    question: str
    answer: AnswerOut | None
    passages: list[PassageOut]
    mode: Mode
    generation: str | None = Field(description="the index generation every passage came from")
    searched_as: str = Field(description="what was searched: the question, or the follow-up resolved against the "
                                         "history")
    missing: list[str] = Field(description="parts of the corpus not searched (shards of a cluster that did not "
                                           "answer in time); empty when all of it was")


class DocumentOut(_Response):
    doc_id: str
    file: str
    source: str
    title: str
    publisher: str | None
    date: str | None
    url: str | None
    characters: int


class DocumentsPage(_Response):
    generation: str
    total: int
    offset: int
    documents: list[DocumentOut]


class Status(_Response):
    ready: bool = Field(description="there is an index to answer from")
    building: bool = Field(description="a rebuild is running (questions are answered from the current index)")
    index: str
    generation: str | None
    documents: int
    chunks: int
    model: str | None
    built_at: str | None
    modes: list[Mode]
    default_mode: Mode
    default_k: int
    max_k: int


class ErrorOut(BaseModel):
    error: str = Field(description="one line: the problem and the fix")
