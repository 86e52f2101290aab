"""What the chat page's document viewer does: open a passage or an answer in its document, step between the
passages of that document the question matched, close; and the ``/document`` and ``/page`` API endpoints.

An "open" link in an answer names its chat message and the passage's rank (0: the answer sentence); the handler
finds the result kept for that message, so a request carries no offsets or paths of its own. The viewer's state
(``ViewerState.to_dict``) is the document, its matched passages, the one on show and the answer sentence.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

import gradio as gr

from qa.serve import render_viewer
from qa.serve.chat_handlers import user_message, warn
from qa.serve.viewer import Span, ViewError, document_row, document_view, matched_passages, page_view, spans_from
from qa.serve.workspace import Workspace

_REQUEST = re.compile(r"#?qa-open/(\d+)/(\d+)")
MAX_PAGES = 4  # the pages of a passage rendered at once (a passage of 240 tokens spans two at most in practice)


@dataclass(frozen=True)
class ViewerState:
    doc_id: str
    passages: list[tuple[int, int]]  # the matched passages of the document, in document order
    current: int  # which of them is on show
    answer: tuple[int, int] | None  # the answer sentence, when it is in this document

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ViewerState:
        answer = data.get("answer")
        return cls(data["doc_id"], [tuple(p) for p in data["passages"]], int(data["current"]),
                   tuple(answer) if answer else None)

    def spans(self) -> list[Span]:
        start, end = self.passages[self.current]
        return [Span(start, end, "passage"), *([Span(*self.answer, "answer")] if self.answer else [])]


def state_for(workspace: Workspace, request: str, results: dict) -> ViewerState:
    """The viewer state an "open" link asks for: ``qa-open/<message>/<rank>``, rank 0 the answer sentence."""
    match = _REQUEST.fullmatch(request or "")
    result = results.get(match.group(1)) if match else None
    if result is None:
        raise ViewError("this answer is no longer on the page: ask the question again, then open it")
    rank = int(match.group(2))
    answer = result.get("answer")
    if rank == 0 and answer:
        rank = answer["passage_rank"]
    passage = next((p for p in result["passages"] if p["rank"] == rank), None)
    if passage is None:
        raise ViewError(f"the answer has no passage {rank}: open one of those shown")
    searcher = workspace.searcher()
    doc = searcher.data.documents[_row_or_fail(searcher, passage)]
    shown = (passage["start"], passage["end"])
    in_doc = answer and answer["doc_id"] == doc.doc_id
    passages = matched_passages(searcher, result["question"], doc.doc_id, shown)
    return ViewerState(doc.doc_id, passages, passages.index(shown),
                       (answer["start"], answer["end"]) if in_doc else None)


def _row_or_fail(searcher: Any, passage: dict) -> int:
    """The passage's document row in the live generation, which must still hold the passage's text there."""
    row = document_row(searcher.data, passage["doc_id"])
    if searcher.data.documents[row].text[passage["start"]:passage["end"]] != passage["text"]:
        raise ViewError("the document has changed since this answer (the index was rebuilt): ask again, then open it")
    return row


def render(workspace: Workspace, state: ViewerState) -> tuple[str, str]:
    """The viewer's title bar and body for ``state``: the text with marks, or the PDF pages with boxes."""
    data = workspace.searcher().data
    view = document_view(data, state.doc_id, state.spans())
    head = render_viewer.viewer_head_html(view, state.current, len(state.passages))
    if view["kind"] != "pdf":
        return head, render_viewer.text_view_html(view)
    passage = view["spans"][0]
    numbers = sorted({box["page"] for box in passage["boxes"]})[:MAX_PAGES] or [passage["page"]]
    pages = [page_view(data, state.doc_id, number, state.spans(), draw=False) for number in numbers]
    return head, render_viewer.pdf_view_html(view, pages)


def open_document(workspace: Workspace, request: str, results: dict) -> tuple:
    """Open a passage or answer beside the chat: title bar, body, state, the viewer shown, the options hidden."""
    try:
        state = state_for(workspace, request, results)
        head, body = render(workspace, state)
    except Exception as exc:
        warn(exc, "Cannot open the document")
        return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
    return head, body, state.to_dict(), gr.update(visible=True), gr.update(visible=False)


def step(workspace: Workspace, state: dict | None, by: int) -> tuple:
    """The next (``by`` 1) or previous (-1) matched passage of the open document, wrapping around."""
    if not state:
        return gr.skip(), gr.skip(), gr.skip()
    try:
        current = ViewerState.from_dict(state)
        moved = ViewerState(current.doc_id, current.passages, (current.current + by) % len(current.passages),
                            current.answer)
        head, body = render(workspace, moved)
    except Exception as exc:
        warn(exc, "Cannot open the document")
        return gr.skip(), gr.skip(), gr.skip()
    return head, body, moved.to_dict()


def close() -> tuple:
    """Hide the viewer, show the search options again."""
    return None, gr.update(visible=False), gr.update(visible=True)


# -- the API -------------------------------------------------------------------------------------------------------
def api_document(workspace: Workspace, doc_id: str, start: int | None = None, end: int | None = None,
                 answer_start: int | None = None, answer_end: int | None = None) -> dict:
    """The public ``/document`` endpoint (``qa.serve.viewer.document_view``); an error is one line."""
    try:
        return document_view(workspace.searcher().data, doc_id, spans_from(start, end, answer_start, answer_end))
    except Exception as exc:
        raise gr.Error(user_message(exc), print_exception=False) from None


def api_page(workspace: Workspace, doc_id: str, page: int, start: int | None = None, end: int | None = None,
             answer_start: int | None = None, answer_end: int | None = None) -> dict:
    """The public ``/page`` endpoint (``qa.serve.viewer.page_view``, boxes drawn); an error is one line."""
    try:
        return page_view(workspace.searcher().data, doc_id, page, spans_from(start, end, answer_start, answer_end))
    except Exception as exc:
        raise gr.Error(user_message(exc), print_exception=False) from None

