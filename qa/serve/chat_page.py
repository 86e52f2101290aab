"""The chat page: one function lays out each tab, one binds the handlers of ``qa.serve.chat_handlers`` to events.

``build_app(workspace)`` makes the page (there is no module-level app); ``qa.serve.app`` serves it. The page holds
no state of its own beyond Gradio's per-session ``State``s: everything it does goes through the ``Workspace``,
which each handler is given when it is bound to its event.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import gradio as gr

from qa.ingest.readers import SUPPORTED_SUFFIXES
from qa.serve import chat_handlers, render_html, viewer_handlers
from qa.serve.workspace import Workspace
from qa.settings import MODES

EXAMPLE = "When did Russia withdraw its S-300 systems from Syria?"
PLACEHOLDER = ("<div class='qa-placeholder'><b>Ask a question about your documents.</b>"
               "<br>Answers are passages quoted from your files, each with its source.</div>")
# After an answer arrives: show it from its question down (Gradio's autoscroll would show its last passage).
SCROLL_TO_QUESTION = """() => { setTimeout(() => {
  const rows = document.querySelectorAll('#qa-chat .user-row');
  const last = rows[rows.length - 1];
  let box = last && last.parentElement;
  while (box && box.scrollHeight <= box.clientHeight) box = box.parentElement;
  if (box) box.scrollTop += last.getBoundingClientRect().top - box.getBoundingClientRect().top - 8;
}, 80); }"""
WATCH_TICK_SECONDS = 1.5  # how often a page asks the corpus watcher what it is doing
SHOW_FIX = "() => setTimeout(() => document.querySelector('#qa-fix')?.scrollIntoView({block: 'nearest'}), 80)"
# An answer's "open" links (render_html.open_link) are plain links in the sanitised chat: one listener on the page
# hands the link's request to the hidden viewer event instead of following it.
OPEN_LISTENER = """() => {
  if (window.qaOpenListening) return;
  window.qaOpenListening = true;
  document.addEventListener('click', (event) => {
    const link = event.target.closest && event.target.closest('a.qa-open');
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    window.qaOpenRequest = link.getAttribute('href');
    document.querySelector('#qa-open-go').click();
  }, true);
}"""
OPEN_REQUEST = "(request, results) => [window.qaOpenRequest || request, results]"
# The passage on show in the viewer, in the middle of its scrolling panel (the page itself does not move).
SHOW_TARGET = """() => setTimeout(() => {
  const target = document.querySelector('#qa-view-target');
  const scroller = document.querySelector('#qa-viewer-body .qa-view-scroll');
  if (!target || !scroller) return;
  const offset = target.getBoundingClientRect().top - scroller.getBoundingClientRect().top;
  scroller.scrollTop += offset - scroller.clientHeight / 3;
}, 120)"""


@dataclass(frozen=True)
class AskTab:
    """The conversation, the ask bar, the box a thumbs-down opens, and the search options beside them."""

    chat: gr.Chatbot
    question: gr.Textbox
    ask_button: gr.Button
    new_topic: gr.Button
    searched_as: gr.Textbox
    search_instead: gr.Button
    fix_box: gr.Row
    fix: gr.Radio
    fix_save: gr.Button
    k: gr.Slider
    mode: gr.Radio
    sources: gr.Dropdown
    date_from: gr.Textbox
    date_to: gr.Textbox
    clear: gr.Button
    side: gr.Column
    viewer: Viewer


@dataclass(frozen=True)
class Viewer:
    """The document viewer beside the chat, hidden until an "open" link is clicked."""

    column: gr.Column
    head: gr.HTML
    body: gr.HTML
    previous: gr.Button
    next: gr.Button
    close: gr.Button


def viewer_column() -> Viewer:
    with gr.Column(scale=4, min_width=420, visible=False, elem_id="qa-viewer") as column:
        head = gr.HTML("", elem_id="qa-viewer-head")
        with gr.Row(elem_id="qa-viewer-nav"):
            previous = gr.Button("‹ Previous passage", size="sm", variant="secondary", elem_id="qa-view-prev")
            following = gr.Button("Next passage ›", size="sm", variant="secondary", elem_id="qa-view-next")
            close = gr.Button("Close", size="sm", variant="secondary", elem_id="qa-view-close")
        body = gr.HTML("", elem_id="qa-viewer-body")
    return Viewer(column, head, body, previous, following, close)


def open_trigger() -> tuple[gr.Textbox, gr.Button]:
    """The hidden request box and button the "open" links press (outside the viewer: hidden parts are not drawn)."""
    request = gr.Textbox("", elem_id="qa-open-request", show_label=False, container=False)
    go = gr.Button("open", elem_id="qa-open-go")
    return request, go


@dataclass(frozen=True)
class DocumentsTab:
    rebuild_button: gr.Button
    upload: gr.File
    status: gr.HTML
    info: gr.HTML
    ledger_note: gr.HTML
    ledger: gr.Dataframe
    why_question: gr.Textbox
    why_doc: gr.Textbox
    why_button: gr.Button
    why: gr.HTML


@dataclass(frozen=True)
class ChatPage:
    """Every component an event reads or updates, and the per-session state."""

    head: gr.HTML
    watch: gr.HTML  # what the corpus watcher is doing, under the header (qa serve --watch)
    ask: AskTab
    documents: DocumentsTab
    results: gr.State  # chat message index -> Result.to_dict(), for ratings and the viewer
    pending: gr.State  # the thumbs-down waiting for its passage
    viewing: gr.State  # viewer_handlers.ViewerState.to_dict() of the document open, or None
    open_request: gr.Textbox  # what the "open" link clicked asks for (hidden)
    open_go: gr.Button  # pressed by the page's script when an "open" link is clicked (hidden)


def ask_tab(default_mode: str) -> AskTab:
    with gr.Tab("Ask", id="ask"), gr.Row(equal_height=False):
        with gr.Column(scale=4, min_width=420):
            chat = gr.Chatbot(elem_id="qa-chat", show_label=False, height="66vh", layout="panel", autoscroll=False,
                              latex_delimiters=[], buttons=["copy"], sanitize_html=True, line_breaks=False,
                              placeholder=PLACEHOLDER)
            with gr.Row(elem_id="qa-askbar"):
                question = gr.Textbox(show_label=False, placeholder=f"e.g. {EXAMPLE}", scale=8,
                                      elem_id="qa-question", autofocus=True, max_lines=4)
                ask_button = gr.Button("Ask", variant="primary", scale=1, min_width=90, elem_id="qa-ask")
                # "New topic": asks the question alone, without the conversation (short: it shares the bar with Ask)
                new_topic = gr.Button("New topic", variant="secondary", scale=1, min_width=90, elem_id="qa-new-topic")
            with gr.Row(elem_id="qa-searched", equal_height=False):
                searched_as = gr.Textbox(label="Last question searched as (correct it and search again)",
                                         scale=8, max_lines=2, elem_id="qa-searched-as")
                search_instead = gr.Button("Search this instead", size="sm", scale=1, min_width=90,
                                           elem_id="qa-search-instead")
            with gr.Row(visible=False, elem_id="qa-fix", equal_height=True) as fix_box:
                fix = gr.Radio([], label="Thanks. Which passage does answer it? (optional)", scale=6)
                fix_save = gr.Button("Save", size="sm", scale=1, min_width=90)
        viewer = viewer_column()
        with gr.Column(scale=1, min_width=300, elem_id="qa-side") as side:
            k = gr.Slider(1, 20, value=5, step=1, label="Passages to show")
            mode = gr.Radio(list(MODES), value=default_mode, label="Retrieval",
                            info="dense: meaning · lexical: exact words · hybrid: both")
            sources = gr.Dropdown([("All sources", "")], value="", label="Source", allow_custom_value=True,
                                  info="Pick one, or type part of a title or publisher", elem_id="qa-sources")
            with gr.Row(elem_id="qa-dates"):
                dates = {"placeholder": "YYYY-MM-DD", "min_width": 120, "max_lines": 1}
                date_from = gr.Textbox(label="Dated from", **dates)
                date_to = gr.Textbox(label="to", **dates)
            clear = gr.Button("New conversation", size="sm", variant="secondary")
    return AskTab(chat, question, ask_button, new_topic, searched_as, search_instead, fix_box, fix, fix_save, k, mode,
                  sources, date_from, date_to, clear, side, viewer)


def documents_tab(max_upload_bytes: int) -> DocumentsTab:
    with gr.Tab("Documents", id="documents"):
        with gr.Row(equal_height=True):
            rebuild_button = gr.Button("Rebuild index", variant="primary", scale=0, min_width=160,
                                       elem_id="qa-rebuild")
            gr.Markdown("Reads the corpus folder again and embeds only what changed. Questions are "
                        "answered from the current index meanwhile.", elem_id="qa-hint")
        upload = gr.File(
            label=f"Add documents ({', '.join(sorted(SUPPORTED_SUFFIXES))}; up to "
                  f"{max_upload_bytes / 2**20:.0f} MB each)",
            file_count="multiple", file_types=sorted(SUPPORTED_SUFFIXES), type="filepath",
            elem_id="qa-upload", height=120,
        )
        status = gr.HTML("", elem_id="qa-status")
        ledger_note = gr.HTML("", elem_id="qa-ledger-note")
        # Sorted by a click on a column's header, filtered by the box above it (type "skipped", a folder, ...).
        ledger = gr.Dataframe(headers=render_html.LEDGER_HEADERS, interactive=False, show_search="filter",
                              wrap=True, max_height=520, label="Every file of the corpus, as the last build left it",
                              datatype=["str", "str", "str", "number", "str", "number", "str"],
                              column_widths=["9%", "22%", "39%", "7%", "7%", "7%", "9%"], elem_id="qa-ledger")
        with gr.Row(equal_height=True, elem_id="qa-why-row"):
            why_question = gr.Textbox(label="Why wasn't this found? Question", scale=4, max_lines=2,
                                      elem_id="qa-why-question")
            why_doc = gr.Textbox(label="Document (click a row above)", scale=2, max_lines=1, elem_id="qa-why-doc")
            why_button = gr.Button("Explain", scale=0, min_width=110, elem_id="qa-why")
        why = gr.HTML("", elem_id="qa-why-out")
        info = gr.HTML(render_html.info_html(None), elem_id="qa-info")
    return DocumentsTab(rebuild_button, upload, status, info, ledger_note, ledger, why_question, why_doc,
                        why_button, why)


def wire_events(app: gr.Blocks, page: ChatPage, workspace: Workspace) -> None:
    """Bind each handler, given the workspace, to the events that run it. The page's own events are private: only
    ``/ask``, ``/document`` and ``/page`` are offered to API clients."""
    ask, docs = page.ask, page.documents
    options = [ask.k, ask.mode, ask.sources, ask.date_from, ask.date_to]
    inputs = [ask.question, ask.chat, page.results, *options]
    asking = {"concurrency_limit": 4, "concurrency_id": "ask", "api_visibility": "private"}
    outputs = [ask.chat, page.results, ask.question, ask.searched_as]
    asks = [(trigger, partial(chat_handlers.ask_question, workspace))
            for trigger in (ask.question.submit, ask.ask_button.click)]
    asks.append((ask.new_topic.click, partial(chat_handlers.ask_question, workspace, new_topic=True)))
    for trigger, handler in asks:
        trigger(handler, inputs, outputs, **asking).success(None, js=SCROLL_TO_QUESTION)
    for trigger in (ask.search_instead.click, ask.searched_as.submit):
        trigger(partial(chat_handlers.search_instead, workspace), [ask.searched_as, ask.chat, page.results, *options],
                [ask.chat, page.results, ask.searched_as], **asking)
    for trigger in (ask.clear.click, ask.chat.clear):
        trigger(chat_handlers.new_conversation, None,
                [ask.chat, page.results, ask.fix_box, page.pending, ask.searched_as], api_visibility="private")

    # subtle: Gradio hands an event's data only to a parameter type-hinted gr.LikeData, a hint a partial hides
    def rate(results: dict, event: gr.LikeData) -> tuple:
        return chat_handlers.rate(workspace, results, event)

    ask.chat.like(rate, [page.results], [ask.fix_box, ask.fix, page.pending], api_visibility="private"
                  ).success(None, js=SHOW_FIX)
    ask.fix_save.click(partial(chat_handlers.save_fix, workspace), [ask.fix, page.pending],
                       [ask.fix_box, page.pending], api_visibility="private")
    index_outputs = [docs.status, page.head, docs.info, ask.sources]
    index_event = {"concurrency_limit": 1, "concurrency_id": "index", "api_visibility": "private",
                   "show_progress_on": [docs.status]}  # one progress bar, in the status line
    show_ledger = (partial(chat_handlers.ledger_view, workspace), None, [docs.ledger_note, docs.ledger])
    docs.rebuild_button.click(partial(chat_handlers.rebuild, workspace), None, index_outputs, **index_event
                              ).then(*show_ledger, api_visibility="private")
    docs.upload.upload(partial(chat_handlers.add_documents, workspace), [docs.upload], [*index_outputs, docs.upload],
                       **index_event).then(*show_ledger, api_visibility="private")
    docs.ledger.select(chat_handlers.pick_document, None, [docs.why_doc], api_visibility="private")
    why_inputs = [docs.why_question, docs.why_doc, ask.k, ask.sources, ask.date_from, ask.date_to]
    for trigger in (docs.why_button.click, docs.why_question.submit):
        trigger(partial(chat_handlers.explain, workspace), why_inputs, [docs.why], concurrency_limit=4,
                concurrency_id="ask", api_visibility="private")
    if workspace.watcher is not None:
        seen = gr.State(-1)
        gr.Timer(WATCH_TICK_SECONDS).tick(
            partial(chat_handlers.watch_view, workspace), [seen],
            [page.watch, docs.ledger_note, docs.ledger, page.head, docs.info, ask.sources, seen],
            api_visibility="private", show_progress="hidden", queue=False)
    app.load(partial(chat_handlers.refresh, workspace), None, [page.head, docs.info, ask.sources],
             api_visibility="private").then(*show_ledger, api_visibility="private")
    wire_viewer(app, page, workspace)

    # subtle: gr.api describes the endpoint from this signature, its type hints and its docstring
    def api_ask(question: str, k: int | None = 5, mode: str | None = None) -> dict:
        """Answer a question from the index: the same object as `qa ask --json` (k, mode: null for defaults)."""
        return chat_handlers.api_ask(workspace, question, k, mode)

    gr.api(api_ask, api_name="ask", concurrency_limit=4, concurrency_id="ask")


def wire_viewer(app: gr.Blocks, page: ChatPage, workspace: Workspace) -> None:
    """The viewer's events, and the public ``/document`` and ``/page`` endpoints."""
    viewer, private = page.ask.viewer, {"api_visibility": "private"}
    shown = [viewer.head, viewer.body, page.viewing]
    app.load(None, js=OPEN_LISTENER, **private)
    page.open_go.click(partial(viewer_handlers.open_document, workspace), [page.open_request, page.results],
                    [*shown, viewer.column, page.ask.side], js=OPEN_REQUEST, **private).success(None, js=SHOW_TARGET)
    for button, by in ((viewer.previous, -1), (viewer.next, 1)):
        button.click(partial(viewer_handlers.step, workspace, by=by), [page.viewing], shown, **private
                     ).success(None, js=SHOW_TARGET)
    viewer.close.click(viewer_handlers.close, None, [page.viewing, viewer.column, page.ask.side], **private)

    def api_document(doc_id: str, start: int | None = None, end: int | None = None, answer_start: int | None = None,
                     answer_end: int | None = None) -> dict:
        """A document of the index as indexed: its text, headings and pages, with the passage start-end and the
        answer sentence (both optional; offsets as /ask returns them) and, for a PDF, their boxes."""
        return viewer_handlers.api_document(workspace, doc_id, start, end, answer_start, answer_end)

    def api_page(doc_id: str, page: int = 1, start: int | None = None, end: int | None = None,
                 answer_start: int | None = None, answer_end: int | None = None) -> dict:
        """Page `page` of a PDF of the index as a PNG data URL ("image"), with the passage start-end and the answer
        sentence boxed on it (both optional) and the boxes listed in fractions of the page."""
        return viewer_handlers.api_page(workspace, doc_id, page, start, end, answer_start, answer_end)

    gr.api(api_document, api_name="document", concurrency_limit=4, concurrency_id="view")
    gr.api(api_page, api_name="page", concurrency_limit=2, concurrency_id="view")


def build_app(workspace: Workspace) -> gr.Blocks:
    """The chat page over ``workspace``: an Ask tab and a Documents tab under a header naming the index."""
    with gr.Blocks(title="qa · ask your documents", analytics_enabled=False, fill_width=False) as app:
        results, pending, viewing = gr.State({}), gr.State(None), gr.State(None)
        head = gr.HTML(render_html.header_html(None), elem_id="qa-head")
        watch = gr.HTML("", elem_id="qa-watch")
        with gr.Tabs():
            ask = ask_tab(workspace.default_mode)
            documents = documents_tab(workspace.max_upload_bytes)
        request, go = open_trigger()
        wire_events(app, ChatPage(head, watch, ask, documents, results, pending, viewing, request, go), workspace)
    return app
