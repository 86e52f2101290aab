"""The document viewer without a browser: the data behind it (qa.serve.viewer), its HTML, the chat handlers that
open and step through a document, and the /document and /page endpoints called with gradio_client's defaults."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest

from qa.index import store
from qa.index.build import build_index
from qa.serve import render_html, render_viewer, viewer_handlers
from qa.serve.viewer import Span, ViewError, document_view, matched_passages, page_view
from qa.serve.workspace import Workspace
from tests.pdfs import column, write_pdf

PEARS = "The Kestrel orchard planted 4,200 pear trees in 2019."
PAGES = [column(72, ["Kestrel Orchard annual report.", "Rain fell on most days of April."]),
         column(72, ["Apples remain the main crop.", PEARS, "Plums were not planted."])]
NOTES = ("# Pears\n\nPear notes. <script>alert(1)</script> <b>bold</b> & more.\n\n## Later\n\n"
         "Pear trees flower early. The orchard keeps bees.\n")


@pytest.fixture
def workspace(tmp_path: Path, embedder) -> Workspace:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "kestrel.pdf").write_bytes(write_pdf(PAGES))
    (corpus / "notes.md").write_text(NOTES)
    build_index(corpus, tmp_path / "index", embedder, progress=False)
    return Workspace(tmp_path / "index", corpus)


def data_of(workspace: Workspace) -> store.IndexData:
    return workspace.searcher().data


def png(view: dict) -> np.ndarray:
    from PIL import Image

    assert view["image"].startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(view["image"].split(",", 1)[1]))).convert("RGB"))


def test_a_document_view_is_the_indexed_text_with_its_spans(workspace) -> None:
    data = data_of(workspace)
    notes = next(d for d in data.documents if d.doc_id == "notes.md")
    start = notes.text.index("Pear trees")
    view = document_view(data, "notes.md", [Span(start, start + 10), Span(start, start + 4, "answer")])
    assert view["text"] == notes.text and view["kind"] == "text" and view["file"] == "notes.md"
    assert [s["text"] for s in view["spans"]] == ["Pear trees", "Pear"] and view["spans"][0]["boxes"] == []
    assert [s["heading"] for s in view["sections"]] == ["Pears", "Later"]


def test_a_pdf_view_boxes_the_answer_on_its_page_and_the_page_image_shows_it(workspace) -> None:
    data = data_of(workspace)
    doc = next(d for d in data.documents if d.doc_id == "kestrel.pdf")
    start = doc.text.index(PEARS)
    (span,) = document_view(data, "kestrel.pdf", [Span(start, start + len(PEARS), "answer")])["spans"]
    assert span["page"] == 2 and [b["page"] for b in span["boxes"]] == [2]
    plain = page_view(data, "kestrel.pdf", 2, draw=False)
    boxed = page_view(data, "kestrel.pdf", 2, [Span(start, start + len(PEARS), "answer")])
    assert plain["boxes"] == [] and [b["kind"] for b in boxed["boxes"]] == ["answer"]
    before, after = png(plain), png(boxed)
    assert before.shape == after.shape == (boxed["height"], boxed["width"], 3)
    box = boxed["boxes"][0]
    changed = np.argwhere(np.any(before != after, axis=2))  # what drawing the box changed: around the box only
    rows, cols = changed[:, 0] / after.shape[0], changed[:, 1] / after.shape[1]
    slack = 6 / after.shape[1]
    assert rows.min() >= box["y0"] - slack and rows.max() <= box["y1"] + slack
    assert cols.min() >= box["x0"] - slack and cols.max() <= box["x1"] + slack
    red = after[int(box["y0"] * after.shape[0]) - 1, int((box["x0"] + box["x1"]) / 2 * after.shape[1])]
    assert red[0] > 180 and red[1] < 90  # the answer's outline


@pytest.mark.parametrize(("call", "message"), [
    (lambda d: document_view(d, "../../etc/passwd"), "no document '../../etc/passwd' in the index"),
    (lambda d: document_view(d, ""), "no document id given"),
    (lambda d: document_view(d, "notes.md", [Span(5, 10**6)]), "span 5-1000000 is outside 'notes.md'"),
    (lambda d: document_view(d, "notes.md", [Span(0, 5, "script")]), "span kind 'script' is unknown"),
    (lambda d: page_view(d, "kestrel.pdf", 3), "page 3 is outside 'kestrel.pdf': pass 1 to 2"),
    (lambda d: page_view(d, "kestrel.pdf", "two"), "page 'two' is not a page number"),
    (lambda d: page_view(d, "notes.md", 1), "'notes.md' has no pages"),
])
def test_what_cannot_be_shown_is_one_line_with_the_fix(workspace, call, message: str) -> None:
    with pytest.raises(ViewError, match=message):
        call(data_of(workspace))


def test_a_pdf_changed_since_indexing_is_not_shown_with_stale_boxes(workspace) -> None:
    (workspace.corpus_dir / "kestrel.pdf").write_bytes(write_pdf([column(72, ["Another text entirely."])]))
    with pytest.raises(ViewError, match="has changed since it was indexed: run `qa index`"):
        page_view(data_of(workspace), "kestrel.pdf", 1)
    (workspace.corpus_dir / "kestrel.pdf").unlink()
    with pytest.raises(ViewError, match="cannot read .*kestrel.pdf.*put it back or run `qa index`"):
        page_view(data_of(workspace), "kestrel.pdf", 1)


def test_the_text_view_escapes_the_document_and_marks_the_answer() -> None:
    view = {"text": NOTES, "sections": [{"start": 0, "heading": "Pears"}], "file": "notes.md", "source": "Notes",
            "spans": [{"start": 9, "end": 40, "kind": "passage"}, {"start": 9, "end": 20, "kind": "answer"}]}
    html = render_viewer.text_view_html(view)
    assert "<script" not in html and "&lt;script&gt;alert(1)" in html and "<b>" not in html
    assert '<span class="qa-p qa-a" id="qa-view-target">Pear notes.</span>' in html
    assert '<span class="qa-h"># Pears</span>' in html


def test_matched_passages_are_the_documents_chunks_holding_a_question_word(workspace) -> None:
    searcher = workspace.searcher()
    data = searcher.data
    row = [d.doc_id for d in data.documents].index("notes.md")
    chunks = [(int(s), int(e)) for d, s, e in zip(data.chunks.doc, data.chunks.start, data.chunks.end, strict=True)
              if d == row]
    text = data.documents[row].text
    assert matched_passages(searcher, "zebras", "notes.md", chunks[0]) == [chunks[0]]  # no word: the shown one
    found = matched_passages(searcher, "pear bees", "notes.md", chunks[0])
    assert found == sorted(c for c in chunks if "pear" in text[c[0]:c[1]].lower() or "bees" in text[c[0]:c[1]])


def result_in_chat(workspace: Workspace, question: str) -> tuple[dict, str]:
    result = workspace.ask(question, 3)
    html = render_html.result_html(result, message="1")
    return {"1": result.to_dict()}, html


def test_open_links_name_the_message_and_rank_and_open_the_answer_in_its_document(workspace) -> None:
    results, html = result_in_chat(workspace, "How many pear trees did the Kestrel orchard plant?")
    assert 'href="#qa-open/1/0"' in html and 'href="#qa-open/1/1"' in html
    answer = results["1"]["answer"]
    assert answer["text"] == PEARS
    head, body, state, shown, hidden = viewer_handlers.open_document(workspace, "#qa-open/1/0", results)
    assert state["doc_id"] == "kestrel.pdf" and state["answer"] == (answer["start"], answer["end"])
    assert 'data-page="2"' in body and 'class="qa-box qa-box-answer" id="qa-view-target"' in body
    assert "kestrel.pdf" in head and shown["visible"] is True and hidden["visible"] is False

    stepped = viewer_handlers.step(workspace, state, by=1)[2]
    assert stepped["current"] == (state["current"] + 1) % len(state["passages"])


def test_an_open_link_of_a_result_no_longer_kept_is_a_message(workspace, monkeypatch) -> None:
    warned = []
    monkeypatch.setattr(viewer_handlers, "warn", lambda exc, title: warned.append(str(exc)))
    results, _ = result_in_chat(workspace, "pear trees")
    for request in ("#qa-open/7/1", "#qa-open/1/9", "javascript:alert(1)"):
        assert viewer_handlers.open_document(workspace, request, results)[0] is not None  # gr.skip()
    assert [w.split(":")[0] for w in warned] == ["this answer is no longer on the page", "the answer has no passage 9",
                                                 "this answer is no longer on the page"]


@pytest.fixture
def served(workspace):
    from qa.serve.app import build_app, launch

    app = build_app(workspace)
    _, url, _ = launch(app, port=0, prevent_thread_lock=True)
    yield url
    app.close()


def test_the_document_and_page_endpoints_with_gradio_clients_default_call(workspace, served) -> None:
    from gradio_client import Client

    client = Client(served, verbose=False)
    answer = client.predict("How many pear trees did the Kestrel orchard plant?", 3, "", api_name="/ask")["answer"]
    got = client.predict(answer["doc_id"], None, None, answer["start"], answer["end"], api_name="/document")
    assert got["spans"][0]["text"] == PEARS and got["spans"][0]["boxes"][0]["page"] == 2
    page = client.predict(answer["doc_id"], 2, None, None, answer["start"], answer["end"], api_name="/page")
    assert page["page"] == 2 and page["boxes"] == [{"kind": "answer", **got["spans"][0]["boxes"][0]}]
    assert png(page).shape[:2] == (page["height"], page["width"])
    whole = client.predict("notes.md", api_name="/document")
    assert whole["text"] == (workspace.corpus_dir / "notes.md").read_text() and whole["spans"] == []
    with pytest.raises(Exception, match="no document '/etc/passwd' in the index") as caught:
        client.predict("/etc/passwd", 1, api_name="/page")
    assert "Traceback" not in str(caught.value)
