"""The browser chat: layout and events over a ``Workspace``; all HTML comes from ``qa.serve.render_html``.

``build_app`` makes the page (no module-level app), ``launch`` serves it with our theme on loopback, and
``serve`` is what ``qa serve`` runs. Errors users can fix become a toast with the message; anything else is
logged with its traceback on the server and shown as one line, never a traceback.
"""

from __future__ import annotations

import logging
import sys
import uuid
from html import escape
from pathlib import Path
from textwrap import shorten
from typing import Any

import gradio as gr

from qa.assistant import Assistant
from qa.errors import QAError, SettingsError
from qa.ingest.readers import SUPPORTED_SUFFIXES
from qa.serve import render_html
from qa.serve.feedback import feedback_record
from qa.serve.uploads import DEFAULT_MAX_BYTES
from qa.serve.workspace import Workspace
from qa.settings import MODES

log = logging.getLogger("qa.serve.app")
CSS_PATH = Path(__file__).with_name("app.css")
MAX_SOURCE_CHOICES = 1000  # a bigger collection is filtered by typing part of a label
EXAMPLE = "When did Russia withdraw its S-300 systems from Syria?"
SYSTEM_FONTS = ("ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial",
                "sans-serif")
# After an answer arrives: show it from its question down (Gradio's autoscroll would show its last passage).
SCROLL_TO_QUESTION = """() => { setTimeout(() => {
  const rows = document.querySelectorAll('#qa-chat .user-row');
  const last = rows[rows.length - 1];
  let box = last && last.parentElement;
  while (box && box.scrollHeight <= box.clientHeight) box = box.parentElement;
  if (box) box.scrollTop += last.getBoundingClientRect().top - box.getBoundingClientRect().top - 8;
}, 80); }"""
SHOW_FIX = "() => setTimeout(() => document.querySelector('#qa-fix')?.scrollIntoView({block: 'nearest'}), 80)"
MONO_FONTS = ("ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "Liberation Mono", "monospace")


def theme() -> gr.themes.Base:
    """System fonts only: the page fetches nothing from outside (no web fonts at all)."""
    return gr.themes.Default(primary_hue="indigo", secondary_hue="slate", neutral_hue="slate",
                             radius_size="md", font=list(SYSTEM_FONTS), font_mono=list(MONO_FONTS))


def _message(exc: Exception) -> str:
    """One line for the user; an unexpected error is logged with its traceback on the server only."""
    if isinstance(exc, QAError):
        return str(exc)
    log.exception("unexpected error in the app")
    return f"unexpected error ({type(exc).__name__}); the details are in the server log"


def _warn(exc: Exception, title: str = "Cannot do that") -> None:
    # A toast, not gr.Error: raising would cover the chat with an error overlay and hide the conversation.
    gr.Warning(escape(_message(exc)), title=title)


def _message_index(index: Any) -> int:
    return int(index[0] if isinstance(index, list | tuple) else index)


def build_app(assistant_or_index_dir: Assistant | str | Path, corpus_dir: str | Path, *, model: str | None = None,
              max_upload_bytes: int = DEFAULT_MAX_BYTES) -> gr.Blocks:
    """The chat page over the index (an ``Assistant`` or its folder) and the corpus folder it is built from."""
    if isinstance(assistant_or_index_dir, Assistant):
        ws = Workspace(assistant_or_index_dir.index_dir, Path(corpus_dir), assistant=assistant_or_index_dir,
                       model=model, max_upload_bytes=max_upload_bytes)
    else:
        ws = Workspace(Path(assistant_or_index_dir), Path(corpus_dir), model=model, max_upload_bytes=max_upload_bytes)

    def refresh() -> tuple[str, str, Any]:
        try:
            info = ws.info()
        except QAError as exc:
            return render_html.header_html(None), render_html.notice_html(str(exc), "error"), gr.update()
        labels = sorted({source for source, _ in info["sources"]})[:MAX_SOURCE_CHOICES] if info else []
        choices = [("All sources", ""), *labels]
        return render_html.header_html(info), render_html.info_html(info), gr.update(choices=choices)

    # -- asking ------------------------------------------------------------------------------------------------
    def chat_ask(question: str, history: list, results: dict, k: float, mode: str, source: str | None,
                 date_from: str, date_to: str) -> tuple[list, dict, str]:
        try:
            filters = {"source": source or None, "date_from": date_from or None, "date_to": date_to or None}
            result = ws.ask(question, int(k), mode=mode, filters=filters)
        except Exception as exc:
            _warn(exc, "Cannot answer")
            return gr.skip(), gr.skip(), gr.skip()
        history = [*history, {"role": "user", "content": render_html.question_html(result.question)},
                   {"role": "assistant", "content": render_html.result_html(result)}]
        return history, {**results, str(len(history) - 1): result.to_dict()}, ""

    # -- ratings -----------------------------------------------------------------------------------------------
    def rate(results: dict, event: gr.LikeData) -> tuple[Any, Any, Any]:
        result = results.get(str(_message_index(event.index)))
        if result is None or event.liked not in (True, False):
            return gr.update(visible=False), gr.update(), None
        rating_id = uuid.uuid4().hex
        try:
            ws.record_feedback(feedback_record(result, bool(event.liked), rating_id=rating_id))
        except Exception as exc:
            _warn(exc, "Rating not saved")
            return gr.skip(), gr.skip(), gr.skip()
        if event.liked:
            gr.Info("Thanks: saved as a regression question (feedback.jsonl next to the index).")
            return gr.update(visible=False), gr.update(), None
        choices = [(f"{p['rank']} · {shorten(p['publisher'] or p['title'], 40, placeholder='…')}", p["rank"])
                   for p in result["passages"]]
        return (gr.update(visible=True), gr.update(choices=[*choices, ("None of these", 0)], value=None),
                {"id": rating_id, "result": result})

    def save_fix(choice: int | None, pending: dict | None) -> tuple[Any, Any]:
        if not pending:
            return gr.update(visible=False), None
        if choice is None:
            gr.Warning("Choose the passage that answers the question, or None of these.", title="Nothing chosen")
            return gr.skip(), gr.skip()
        if choice:
            try:
                ws.record_feedback(feedback_record(pending["result"], False, rating_id=pending["id"],
                                                   passage_rank=int(choice)))
            except Exception as exc:
                _warn(exc, "Rating not saved")
                return gr.skip(), gr.skip()
        gr.Info("Thanks: noted which passage answers it." if choice else "Thanks: noted that none of them does.")
        return gr.update(visible=False), None

    # -- the index -----------------------------------------------------------------------------------------------
    def rebuild(progress: gr.Progress = gr.Progress(track_tqdm=True)):  # noqa: B008 (Gradio's own pattern)
        yield render_html.notice_html("Rebuilding… questions are answered from the current index meanwhile.",
                                      "busy"), gr.update(), gr.update(), gr.update()
        try:
            progress(0, desc="Reading the corpus")
            report = ws.rebuild(progress=True)
        except Exception as exc:
            yield render_html.notice_html(_message(exc), "error"), *refresh()
            return
        yield render_html.report_html(report), *refresh()

    def add(files: list[str] | None, progress: gr.Progress = gr.Progress(track_tqdm=True)):  # noqa: B008
        if not files:
            yield gr.update(), gr.update(), gr.update(), gr.update(), gr.update()
            return
        saved, refused = ws.add_files([(Path(f), Path(f).name) for f in files])
        for f in files:  # the copy now lives in the corpus; do not leave it in Gradio's servable upload cache
            Path(f).unlink(missing_ok=True)
        report, failed = None, ""
        if saved:
            yield (render_html.notice_html(f"Saved {len(saved)} file(s); indexing…", "busy"),
                   gr.update(), gr.update(), gr.update(), None)
            try:
                progress(0, desc="Indexing the new documents")
                report = ws.rebuild(progress=True)
            except Exception as exc:
                failed = render_html.notice_html(f"Not indexed yet: {_message(exc)}", "error")
        html = render_html.report_html(report, [s.name for s in saved], refused)
        html += "".join(render_html.notice_html(s.note, "info") for s in saved if s.note) + failed
        yield html, *refresh(), None

    with gr.Blocks(title="qa · ask your documents", analytics_enabled=False, fill_width=False) as app:
        results = gr.State({})  # chat message index -> Result.to_dict(), for ratings
        pending = gr.State(None)  # the thumbs-down waiting for its passage
        head = gr.HTML(render_html.header_html(None), elem_id="qa-head")
        with gr.Tabs():
            with gr.Tab("Ask", id="ask"), gr.Row(equal_height=False):
                with gr.Column(scale=4, min_width=420):
                    chat = gr.Chatbot(
                        elem_id="qa-chat", show_label=False, height="66vh", layout="panel", autoscroll=False,
                        latex_delimiters=[], buttons=["copy"], sanitize_html=True, line_breaks=False,
                        placeholder=("<div class='qa-placeholder'><b>Ask a question about your documents.</b>"
                                     "<br>Answers are passages quoted from your files, each with its source."
                                     "</div>"),
                    )
                    with gr.Row(elem_id="qa-askbar"):
                        question = gr.Textbox(show_label=False, placeholder=f"e.g. {EXAMPLE}", scale=8,
                                              elem_id="qa-question", autofocus=True, max_lines=4)
                        ask_button = gr.Button("Ask", variant="primary", scale=1, min_width=90, elem_id="qa-ask")
                    with gr.Row(visible=False, elem_id="qa-fix", equal_height=True) as fix_box:
                        fix = gr.Radio([], label="Thanks. Which passage does answer it? (optional)", scale=6)
                        fix_save = gr.Button("Save", size="sm", scale=1, min_width=90)
                with gr.Column(scale=1, min_width=300, elem_id="qa-side"):
                    k = gr.Slider(1, 20, value=5, step=1, label="Passages to show")
                    mode = gr.Radio(list(MODES), value=ws.settings.retrieval.mode, label="Retrieval",
                                    info="dense: meaning · lexical: exact words · hybrid: both")
                    sources = gr.Dropdown([("All sources", "")], value="", label="Source", allow_custom_value=True,
                                          info="Pick one, or type part of a title or publisher",
                                          elem_id="qa-sources")
                    with gr.Row(elem_id="qa-dates"):
                        dates = {"placeholder": "YYYY-MM-DD", "min_width": 120, "max_lines": 1}
                        date_from = gr.Textbox(label="Dated from", **dates)
                        date_to = gr.Textbox(label="to", **dates)
                    clear = gr.Button("New conversation", size="sm", variant="secondary")
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
                info = gr.HTML(render_html.info_html(None), elem_id="qa-info")

        inputs = [question, chat, results, k, mode, sources, date_from, date_to]
        for trigger in (question.submit, ask_button.click):
            trigger(chat_ask, inputs, [chat, results, question], concurrency_limit=4, concurrency_id="ask",
                    api_visibility="private").success(None, js=SCROLL_TO_QUESTION)
        for trigger in (clear.click, chat.clear):
            trigger(lambda: ([], {}, gr.update(visible=False), None), None, [chat, results, fix_box, pending],
                    api_visibility="private")
        chat.like(rate, [results], [fix_box, fix, pending], api_visibility="private").success(None, js=SHOW_FIX)
        fix_save.click(save_fix, [fix, pending], [fix_box, pending], api_visibility="private")
        index_outputs = [status, head, info, sources]
        index_event = {"concurrency_limit": 1, "concurrency_id": "index", "api_visibility": "private",
                       "show_progress_on": [status]}  # one progress bar, in the status line
        rebuild_button.click(rebuild, None, index_outputs, **index_event)
        upload.upload(add, [upload], [*index_outputs, upload], **index_event)
        app.load(refresh, None, [head, info, sources], api_visibility="private")

        def api_ask(question: str, k: int | None = 5, mode: str | None = None) -> dict:
            """Answer a question from the index: the same object as `qa ask --json` (k, mode: null for defaults)."""
            try:
                return ws.ask(question, k, mode=mode or None).to_dict()
            except Exception as exc:
                raise gr.Error(_message(exc), print_exception=False) from None

        gr.api(api_ask, api_name="ask", concurrency_limit=4, concurrency_id="ask")
    app.qa_workspace = ws  # for serve() and tests
    return app


def launch(app: gr.Blocks, *, host: str = "127.0.0.1", port: int = 7860, auth: tuple[str, str] | None = None,
           share: bool = False, max_upload_bytes: int = DEFAULT_MAX_BYTES, prevent_thread_lock: bool = False,
           quiet: bool = True) -> Any:
    """Serve the page: our theme and CSS, no public link unless asked, no file served from disk but the page's."""
    app.queue(max_size=64)
    return app.launch(
        server_name=host, server_port=port, auth=auth, share=share, prevent_thread_lock=prevent_thread_lock,
        quiet=quiet, show_error=False, theme=theme(), css_paths=[CSS_PATH], footer_links=["api"],
        run_history=False, enable_monitoring=False, mcp_server=False, ssr_mode=False, pwa=False,
        allowed_paths=[], max_file_size=max_upload_bytes, auth_message="qa: sign in to ask your documents",
    )


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """``"user:password"`` -> ``("user", "password")``; SettingsError when either part is missing."""
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise SettingsError("--auth (or QA_AUTH) must be USER:PASSWORD, both non-empty")
    return user, password


def serve(index: Path, corpus: Path, *, host: str = "127.0.0.1", port: int = 7860, auth: str | None = None,
          share: bool = False, max_upload_mb: float = DEFAULT_MAX_BYTES / 2**20, model: str | None = None) -> int:
    """``qa serve``: build the index first if there is none, then serve the chat until interrupted."""
    credentials = parse_auth(auth)
    if max_upload_mb <= 0:
        raise SettingsError(f"--max-upload-mb {max_upload_mb} must be above 0")
    max_bytes = int(max_upload_mb * 2**20)
    app = build_app(index, corpus, model=model, max_upload_bytes=max_bytes)
    ws: Workspace = app.qa_workspace
    try:
        if ws.ensure_index(progress=True) is not None:
            print(f"qa: built the index at {index} from {corpus}", file=sys.stderr)
        if ws.assistant is not None:
            ws.assistant.embedder.embed(["warm up"])  # load the model now, not on the first question
    except QAError as exc:
        print(f"qa: warning: {exc}\nqa: serving anyway: add documents or rebuild from the page's Documents tab",
              file=sys.stderr)
    try:
        _, url, share_url = launch(app, host=host, port=port, auth=credentials, share=share,
                                   max_upload_bytes=max_bytes, prevent_thread_lock=True)
    except OSError as exc:
        raise SettingsError(f"cannot listen on {host}:{port} ({exc}): pass another --port") from None
    print(f"qa: the chat is at {url}" + (f" and {share_url}" if share_url else "") + " (Ctrl+C stops it)",
          flush=True)
    try:
        app.block_thread()
    except KeyboardInterrupt:
        pass
    finally:
        app.close()
    return 0
