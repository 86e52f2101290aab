"""What the chat page does when something happens on it: one module-level function per event.

Each handler takes the ``Workspace`` and the event's inputs explicitly and returns the updates for the event's
outputs, so a test calls it directly with a workspace; ``qa.serve.chat_page`` only lays the page out and binds the
handlers to its events. All HTML comes from ``qa.serve.render_html``.

Errors users can fix become a toast with the message; anything else is logged with its traceback on the server and
shown as one line, never a traceback.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import replace
from html import escape
from pathlib import Path
from textwrap import shorten
from typing import Any

import gradio as gr

from qa.errors import QAError
from qa.records import Result
from qa.serve import render_html
from qa.serve.feedback import feedback_record
from qa.serve.workspace import Workspace

log = logging.getLogger("qa.serve.app")
MAX_SOURCE_CHOICES = 1000  # a bigger collection is filtered by typing part of a label


def user_message(exc: Exception) -> str:
    """One line for the user; an unexpected error is logged with its traceback on the server only."""
    if isinstance(exc, QAError):
        return str(exc)
    log.exception("unexpected error in the app")
    return f"unexpected error ({type(exc).__name__}); the details are in the server log"


def warn(exc: Exception, title: str = "Cannot do that") -> None:
    # A toast, not gr.Error: raising would cover the chat with an error overlay and hide the conversation.
    gr.Warning(escape(user_message(exc)), title=title)


def _message_index(index: Any) -> int:
    return int(index[0] if isinstance(index, list | tuple) else index)


# -- the header, the index panel and the source filter -------------------------------------------------------------
def refresh(workspace: Workspace) -> tuple[str, str, Any]:
    """The header, the Documents tab's panel and the source choices, for the index as it is now."""
    try:
        info = workspace.info()
    except QAError as exc:
        return render_html.header_html(None), render_html.notice_html(str(exc), "error"), gr.update()
    labels = sorted({source for source, _ in info["sources"]})[:MAX_SOURCE_CHOICES] if info else []
    choices = [("All sources", ""), *labels]
    return render_html.header_html(info), render_html.info_html(info), gr.update(choices=choices)


def ledger_view(workspace: Workspace) -> tuple[str, Any]:
    """The line above the ledger table and its rows, for the live generation."""
    try:
        ledger = workspace.ledger()
    except QAError as exc:
        return render_html.notice_html(str(exc), "info"), gr.update(value=[])
    return render_html.ledger_summary_html(ledger), gr.update(value=render_html.ledger_rows(ledger.entries))


def watch_view(workspace: Workspace, seen: int) -> tuple:
    """Every tick while ``qa serve --watch`` runs: the watcher's line, and after each rebuild the ledger, header,
    index panel and sources again (``seen``: the rebuilds this page has shown)."""
    watcher = workspace.watcher
    if watcher is None:
        return (gr.skip(),) * 7
    state = watcher.state
    line = render_html.watch_html(state, str(workspace.corpus_dir))
    if state.rebuilds == seen:
        return line, *(gr.skip(),) * 5, seen
    return line, *ledger_view(workspace), *refresh(workspace), state.rebuilds


def pick_document(event: gr.SelectData) -> str:
    """A click on a row of the ledger: its file, for "Why wasn't this found?"."""
    row = event.row_value or []
    return str(row[1]) if len(row) > 1 else gr.skip()


def explain(workspace: Workspace, question: str, doc: str, k: float, source: str | None, date_from: str,
            date_to: str) -> str:
    """Why ``doc`` is or is not among the passages shown for ``question``, with the Ask tab's k and filters."""
    if not (doc or "").strip():
        return render_html.notice_html("Pick a file in the table (click its row) or type its name.", "info")
    try:
        filters = {"source": source or None, "date_from": date_from or None, "date_to": date_to or None}
        return render_html.explanation_html(workspace.explain(question, doc.strip(), int(k), filters=filters))
    except Exception as exc:
        return render_html.notice_html(user_message(exc), "error")


# -- asking --------------------------------------------------------------------------------------------------------
def conversation(results: dict) -> list[dict]:
    """The earlier turns of the chat, oldest first, as ``ask`` takes them: each question with its answer's JSON."""
    return [{"question": results[key]["question"], "answer": results[key]} for key in sorted(results, key=int)]


def _filters(source: str | None, date_from: str, date_to: str) -> dict[str, Any]:
    return {"source": source or None, "date_from": date_from or None, "date_to": date_to or None}


def _answered(result: Result, message: str) -> list[dict]:
    """The chat messages of one answered question: the question (and what it was searched as), then the answer
    (``message``: its index in the chat, which the viewer's links name)."""
    return [{"role": "user", "content": render_html.question_html(result.question, result.searched_as)},
            {"role": "assistant", "content": render_html.result_html(result, message=message)}]


def ask_question(workspace: Workspace, question: str, history: list, results: dict, k: float, mode: str,
        source: str | None, date_from: str, date_to: str, *, new_topic: bool = False) -> tuple[list, dict, str, str]:
    """The conversation with the question and its answer appended, the answer kept for ratings and as the context
    of the next question, the box emptied, and what it was searched as, to correct. ``new_topic``: the question is
    searched alone, not resolved against the conversation."""
    try:
        earlier = [] if new_topic else conversation(results)
        result = workspace.ask(question, int(k), mode=mode, filters=_filters(source, date_from, date_to),
                               history=earlier)
    except Exception as exc:
        warn(exc, "Cannot answer")
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    history = [*history, *_answered(result, str(len(history) + 1))]
    return history, {**results, str(len(history) - 1): result.to_dict()}, "", result.to_dict()["searched_as"]


def search_instead(workspace: Workspace, searched_as: str, history: list, results: dict, k: float, mode: str,
        source: str | None, date_from: str, date_to: str) -> tuple[list, dict, str]:
    """The last question answered again, searched as the person corrected it (alone, as written): its answer in the
    conversation replaced."""
    if not results:
        gr.Warning("Ask a question first; then you can correct what it is searched as.", title="Nothing to correct")
        return gr.skip(), gr.skip(), gr.skip()
    last = max(results, key=int)
    try:
        result = workspace.ask(searched_as, int(k), mode=mode, filters=_filters(source, date_from, date_to))
    except Exception as exc:
        warn(exc, "Cannot answer")
        return gr.skip(), gr.skip(), gr.skip()
    result = replace(result, question=results[last]["question"], searched_as=result.question)
    history = [*history[:int(last) - 1], *_answered(result, last)]
    return history, {**{key: value for key, value in results.items() if key != last}, last: result.to_dict()}, \
        result.searched_as


def new_conversation() -> tuple[list, dict, Any, None, str]:
    """An empty chat, no answers kept, no thumbs-down waiting for its passage, nothing searched."""
    return [], {}, gr.update(visible=False), None, ""


def api_ask(workspace: Workspace, question: str, k: int | None = 5, mode: str | None = None) -> dict:
    """The public ``/ask`` endpoint: the same object as `qa ask --json`; an error is one line for the client."""
    try:
        return workspace.ask(question, k, mode=mode or None).to_dict()
    except Exception as exc:
        raise gr.Error(user_message(exc), print_exception=False) from None


# -- ratings -------------------------------------------------------------------------------------------------------
def rate(workspace: Workspace, results: dict, event: gr.LikeData) -> tuple[Any, Any, Any]:
    """Save a thumbs up or down; a thumbs-down opens the box asking which passage does answer (fix box, its
    choices, the rating waiting for them)."""
    result = results.get(str(_message_index(event.index)))
    if result is None or event.liked not in (True, False):
        return gr.update(visible=False), gr.update(), None
    rating_id = uuid.uuid4().hex
    try:
        workspace.record_feedback(feedback_record(result, bool(event.liked), rating_id=rating_id))
    except Exception as exc:
        warn(exc, "Rating not saved")
        return gr.skip(), gr.skip(), gr.skip()
    if event.liked:
        gr.Info("Thanks: saved as a regression question (feedback.jsonl next to the index).")
        return gr.update(visible=False), gr.update(), None
    choices = [(f"{p['rank']} · {shorten(p['publisher'] or p['title'], 40, placeholder='…')}", p["rank"])
               for p in result["passages"]]
    return (gr.update(visible=True), gr.update(choices=[*choices, ("None of these", 0)], value=None),
            {"id": rating_id, "result": result})


def save_fix(workspace: Workspace, choice: int | None, pending: dict | None) -> tuple[Any, Any]:
    """Record which passage answers the question of a thumbs-down (0: none of them); close the box."""
    if not pending:
        return gr.update(visible=False), None
    if choice is None:
        gr.Warning("Choose the passage that answers the question, or None of these.", title="Nothing chosen")
        return gr.skip(), gr.skip()
    if choice:
        try:
            workspace.record_feedback(feedback_record(pending["result"], False, rating_id=pending["id"],
                                                      passage_rank=int(choice)))
        except Exception as exc:
            warn(exc, "Rating not saved")
            return gr.skip(), gr.skip()
    gr.Info("Thanks: noted which passage answers it." if choice else "Thanks: noted that none of them does.")
    return gr.update(visible=False), None


# -- the index -----------------------------------------------------------------------------------------------------
def rebuild(workspace: Workspace,
            progress: gr.Progress = gr.Progress(track_tqdm=True)) -> Iterator[tuple]:  # noqa: B008 (Gradio's pattern)
    """Bring the index up to date with the corpus: the status line, then what ``refresh`` returns."""
    yield render_html.notice_html("Rebuilding… questions are answered from the current index meanwhile.",
                                  "busy"), gr.update(), gr.update(), gr.update()
    try:
        progress(0, desc="Reading the corpus")
        report = workspace.rebuild(progress=True)
    except Exception as exc:
        yield render_html.notice_html(user_message(exc), "error"), *refresh(workspace)
        return
    yield render_html.report_html(report), *refresh(workspace)


def add_documents(workspace: Workspace, files: list[str] | None,
                  progress: gr.Progress = gr.Progress(track_tqdm=True)) -> Iterator[tuple]:  # noqa: B008
    """Save uploaded files into the corpus and index them: the status line, what ``refresh`` returns, and an
    emptied upload box."""
    if not files:
        yield gr.update(), gr.update(), gr.update(), gr.update(), gr.update()
        return
    saved, refused = workspace.add_files([(Path(f), Path(f).name) for f in files])
    for f in files:  # the copy now lives in the corpus; do not leave it in Gradio's servable upload cache
        Path(f).unlink(missing_ok=True)
    report, failed = None, ""
    if saved:
        yield (render_html.notice_html(f"Saved {len(saved)} file(s); indexing…", "busy"),
               gr.update(), gr.update(), gr.update(), None)
        try:
            progress(0, desc="Indexing the new documents")
            report = workspace.rebuild(progress=True)
        except Exception as exc:
            failed = render_html.notice_html(f"Not indexed yet: {user_message(exc)}", "error")
    html = render_html.report_html(report, [s.name for s in saved], refused)
    html += "".join(render_html.notice_html(s.note, "info") for s in saved if s.note) + failed
    yield html, *refresh(workspace), None
