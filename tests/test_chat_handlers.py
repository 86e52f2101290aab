"""The chat page's handlers called directly with a workspace (fast embedder): what each event shows and saves.

Outside a running page, Gradio turns a toast into a Python warning (gr.Warning) or a print (gr.Info).
"""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr
import pytest

from qa.index.build import build_index
from qa.serve import chat_handlers, render_html
from qa.serve.workspace import Workspace

DANUBE = "Which sea does the Danube end in?"


@pytest.fixture
def ws(small_corpus: Path, tmp_path: Path, embedder) -> Workspace:
    build_index(small_corpus, tmp_path / "index", embedder, progress=False)
    return Workspace(tmp_path / "index", small_corpus, builder=embedder)


def asked(ws: Workspace, question: str = DANUBE, **options) -> tuple[list, dict, str, str]:
    fields = {"history": [], "results": {}, "k": 2, "mode": "hybrid", "source": "", "date_from": "", "date_to": "",
              **options}
    return chat_handlers.ask_question(ws, question, **fields)


def feedback(ws: Workspace) -> list[dict]:
    return [json.loads(line) for line in (ws.index_dir / "feedback.jsonl").read_text().splitlines()]


def like(index: int, liked: bool | str) -> gr.LikeData:
    return gr.LikeData(None, {"index": index, "value": "", "liked": liked})


def test_an_answer_joins_the_conversation_and_is_kept_for_ratings(ws: Workspace) -> None:
    history, results, box, searched_as = asked(ws)
    assert [m["role"] for m in history] == ["user", "assistant"] and box == "" and searched_as == DANUBE
    assert "qa-passage" in history[1]["content"] and "Danube" in history[0]["content"]
    assert results == {"1": ws.ask(DANUBE, 2, mode="hybrid").to_dict()}
    history, results, _, _ = asked(ws, "apples", history=history, results=results)
    assert len(history) == 4 and set(results) == {"1", "3"}  # keyed by the answer's place in the chat


def test_the_filters_reach_the_search(ws: Workspace) -> None:
    _, results, _, _ = asked(ws, k=3, source="Orchard Weekly")
    assert [p["file"] for p in results["1"]["passages"]] == ["apples.md"]


def test_a_refused_question_leaves_the_conversation_as_it_was(ws: Workspace) -> None:
    with pytest.warns(UserWarning, match="the question is empty"):
        assert asked(ws, "   ") == (gr.skip(), gr.skip(), gr.skip(), gr.skip())


def test_a_thumbs_up_is_saved_and_closes_the_fix_box(ws: Workspace) -> None:
    _, results, _, _ = asked(ws)
    assert chat_handlers.rate(ws, results, like(1, True)) == (gr.update(visible=False), gr.update(), None)
    [saved] = feedback(ws)
    assert (saved["rating"], saved["question"]) == ("up", DANUBE)


def test_a_thumbs_down_asks_which_passage_answers_then_saves_it(ws: Workspace) -> None:
    _, results, _, _ = asked(ws)
    box, choices, pending = chat_handlers.rate(ws, results, like([1, 0], False))
    assert box == gr.update(visible=True) and pending["result"] == results["1"]
    assert [rank for _, rank in choices["choices"]] == [1, 2, 0] and choices["choices"][-1][0] == "None of these"
    with pytest.warns(UserWarning, match="Choose the passage"):
        assert chat_handlers.save_fix(ws, None, pending) == (gr.skip(), gr.skip())
    assert chat_handlers.save_fix(ws, 2, pending) == (gr.update(visible=False), None)
    down, fixed = feedback(ws)
    assert (down["rating"], down["source"], fixed["id"]) == ("down", None, down["id"])
    assert fixed["source"] == results["1"]["passages"][1]["source"]


def test_a_rating_of_nothing_known_saves_nothing(ws: Workspace) -> None:
    assert chat_handlers.rate(ws, {}, like(1, False)) == (gr.update(visible=False), gr.update(), None)
    assert chat_handlers.save_fix(ws, 1, None) == (gr.update(visible=False), None)
    assert not (ws.index_dir / "feedback.jsonl").exists()


def test_a_new_conversation_forgets_the_answers_and_the_pending_rating() -> None:
    assert chat_handlers.new_conversation() == ([], {}, gr.update(visible=False), None, "")


def test_refresh_lists_the_sources_and_copes_with_no_index(ws: Workspace, tmp_path: Path) -> None:
    head, info, sources = chat_handlers.refresh(ws)
    assert sources["choices"][0] == ("All sources", "") and "Apples · Orchard Weekly · 2023-05-01" in sources["choices"]
    assert (head, info) == (render_html.header_html(ws.info()), render_html.info_html(ws.info()))
    empty = Workspace(tmp_path / "none", tmp_path / "nothing")
    assert chat_handlers.refresh(empty)[2] == gr.update(choices=[("All sources", "")])


def test_uploads_are_saved_indexed_and_removed_from_the_upload_cache(ws: Workspace, tmp_path: Path) -> None:
    upload = tmp_path / "volcanoes.txt"
    upload.write_text("Volcanoes\n\nMagma rises through the crust of volcanoes.\n")
    *_, (status, _, _, _, box) = chat_handlers.add_documents(ws, [str(upload)])
    assert "volcanoes.txt" in status and box is None and not upload.exists()
    assert ws.ask("magma volcanoes crust", 1).passages[0].path == "volcanoes.txt"
    assert list(chat_handlers.add_documents(ws, None)) == [(gr.update(),) * 5]


def test_the_api_answers_like_qa_ask_json_and_refuses_in_one_line(ws: Workspace) -> None:
    assert chat_handlers.api_ask(ws, DANUBE, 2, "") == ws.ask(DANUBE, 2).to_dict()
    with pytest.raises(gr.Error, match="k=0 is out of range"):
        chat_handlers.api_ask(ws, "apples", 0)


def test_an_unexpected_error_is_one_line_for_the_user_and_a_traceback_in_the_server_log(
        ws: Workspace, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A bug (not a QAError) inside asking: the page and the API show one line naming no detail of it."""
    def broken(*args, **kwargs):
        raise RuntimeError(f"boom: {ws.index_dir} is private")

    monkeypatch.setattr(ws, "ask", broken)
    shown = "unexpected error (RuntimeError); the details are in the server log"
    with pytest.warns(UserWarning) as toasts:
        assert asked(ws) == (gr.skip(),) * 4  # the conversation stays as it was
    assert [str(t.message) for t in toasts] == [shown]
    with pytest.raises(gr.Error) as caught:
        chat_handlers.api_ask(ws, DANUBE, 2, "")
    assert caught.value.message == shown
    logged = [r for r in caplog.records if r.exc_info]
    assert len(logged) == 2 and all(r.exc_info[0] is RuntimeError for r in logged)  # the details: server only


def test_the_ledger_table_lists_every_file_problems_first(ws: Workspace, tmp_path: Path) -> None:
    (ws.corpus_dir / "<b>notes&amp;.numbers").write_bytes(b"PK\x03\x04")
    list(chat_handlers.rebuild(ws))
    note, table = chat_handlers.ledger_view(ws)
    rows = table["value"]
    assert [row[:2] for row in rows] == [["skipped", "<b>notes&amp;.numbers"], ["unchanged", "apples.md"],
                                         ["unchanged", "rivers.txt"], ["unchanged", "stars.txt"]]
    assert "unsupported file type '.numbers'" in rows[0][2] and rows[1][3] > 0  # the reason, the chunks
    assert "4 files: 3 unchanged, 1 skipped" in note and "1 not indexed whole" in note
    empty_note, empty = chat_handlers.ledger_view(Workspace(tmp_path / "none", tmp_path / "nothing"))
    assert "no index" in empty_note and empty["value"] == []


def test_explain_from_the_documents_tab_uses_the_ask_tabs_filters(ws: Workspace) -> None:
    html = chat_handlers.explain(ws, DANUBE, "rivers.txt", 5, "", "", "")
    assert "<b>rivers.txt</b>" in html and "shown at rank 1" in html and "No filter leaves it out." in html
    filtered = chat_handlers.explain(ws, DANUBE, "rivers.txt", 5, "orchard", "", "")
    assert "Left out by the filter: source contains &#x27;orchard&#x27;." in filtered
    assert "qa-error" in chat_handlers.explain(ws, DANUBE, "nope.txt", 5, "", "", "")
    assert "click its row" in chat_handlers.explain(ws, DANUBE, " ", 5, "", "", "")
    event = gr.SelectData(None, {"index": [0, 1], "value": "rivers.txt", "row_value": ["indexed", "rivers.txt"]})
    assert chat_handlers.pick_document(event) == "rivers.txt"


def test_a_follow_up_is_resolved_against_the_conversation(ws: Workspace) -> None:
    history, results, _, _ = asked(ws, "What does the Danube flow through?", mode="lexical")
    history, results, _, searched_as = asked(ws, "Where does it end?", history=history, results=results,
                                             mode="lexical")
    assert searched_as.startswith("Where does it end? Danube")
    assert f"searched as: {searched_as}" in history[2]["content"] and "Black Sea" in history[3]["content"]
    assert results["3"]["searched_as"] == searched_as and results["3"]["passages"][0]["file"] == "rivers.txt"
    _, _, _, alone = asked(ws, "Where does it end?", history=history, results=results, new_topic=True)
    assert alone == "Where does it end?"


def test_a_corrected_search_replaces_the_last_answer(ws: Workspace) -> None:
    history, results, _, _ = asked(ws, "apples", mode="lexical")
    history, results, _, _ = asked(ws, "Where does it end?", history=history, results=results, mode="lexical")
    fields = {"k": 2, "mode": "lexical", "source": "", "date_from": "", "date_to": ""}
    history, results, searched_as = chat_handlers.search_instead(ws, "Where does the Danube end?", history, results,
                                                                 **fields)
    assert len(history) == 4 and set(results) == {"1", "3"} and searched_as == "Where does the Danube end?"
    assert results["3"]["question"] == "Where does it end?" and results["3"]["searched_as"] == searched_as
    assert results["3"]["passages"][0]["file"] == "rivers.txt"
    assert "searched as: Where does the Danube end?" in history[2]["content"]
    with pytest.warns(UserWarning, match="Ask a question first"):
        assert chat_handlers.search_instead(ws, "x", [], {}, **fields) == (gr.skip(), gr.skip(), gr.skip())
