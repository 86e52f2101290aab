"""The MCP server, driven by the official ``mcp`` client SDK over Streamable HTTP on 127.0.0.1: its tools, their
schemas and JSON, its errors and its login; and ``Assistant.excerpt``, the text ``open_document`` returns."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from qa.assistant import Assistant
from qa.errors import QuestionError
from qa.index.build import build_index
from qa.serve.workspace import Workspace
from tests.conftest import REPO, Lines, write_small_corpus

QUESTION = "Which sea does the Danube end in?"


def serve_mcp(workspace: Workspace, **options):
    from qa.serve.app import build_app, launch

    app = build_app(workspace)
    _, url, _ = launch(app, port=0, prevent_thread_lock=True, workspace=workspace, mcp=True, **options)
    return app, url


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from qa.embed.embedders import HashingEmbedder

    root = tmp_path_factory.mktemp("mcp")
    corpus = write_small_corpus(root / "corpus")
    build_index(corpus, root / "index", HashingEmbedder(64), progress=False)
    app, url = serve_mcp(Workspace(root / "index", corpus))
    yield f"{url}mcp", root / "index"
    app.close()


def session(url: str, calls: list[tuple[str, dict]], auth: tuple[str, str] | None = None) -> list[Any]:
    """Connect to the MCP server at ``url``, list its tools, then make each call; the results, tools first."""
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    async def run() -> list[Any]:
        transport = streamable_http_client(url, http_client=httpx2.AsyncClient(auth=auth, timeout=60))
        async with Client(transport) as client:
            results: list[Any] = [(await client.list_tools()).tools]
            for name, arguments in calls:
                results.append(await client.call_tool(name, arguments))
            return results

    return asyncio.run(run())


def test_the_tools_have_names_descriptions_and_schemas(served) -> None:
    (tools,) = session(served[0], [])
    by_name = {tool.name: tool for tool in tools}
    assert sorted(by_name) == ["ask", "open_document", "search"]
    for tool in tools:
        assert tool.description and tool.input_schema["type"] == "object" and tool.output_schema
    assert by_name["ask"].input_schema["required"] == ["question"]
    assert sorted(by_name["ask"].input_schema["properties"]) == ["filters", "history", "k", "mode", "question"]
    assert sorted(by_name["search"].input_schema["properties"]) == ["filters", "k", "mode", "question"]
    assert by_name["open_document"].input_schema["required"] == ["doc_id"]


def test_ask_and_search_return_the_json_of_qa_ask(served) -> None:
    url, index = served
    filters = {"source": "rivers"}
    _, asked, searched, filtered = session(url, [
        ("ask", {"question": QUESTION, "k": 2}),
        ("search", {"question": QUESTION, "k": 2, "mode": "lexical"}),
        ("ask", {"question": QUESTION, "filters": filters}),
    ])
    assistant = Assistant.load(index)
    expected = assistant.ask(QUESTION, k=2).to_dict()
    assert not asked.is_error and asked.structured_content == expected
    assert json.loads(asked.content[0].text) == expected  # the same JSON as text, for clients without structure
    passages = assistant.ask(QUESTION, k=2, mode="lexical", answer=False).to_dict()
    del passages["answer"]
    assert searched.structured_content == passages and "answer" not in searched.structured_content
    assert filtered.structured_content == assistant.ask(QUESTION, filters=filters).to_dict()
    assert [p["file"] for p in filtered.structured_content["passages"]] == ["rivers.txt"]


def test_open_document_reads_around_a_passage(served) -> None:
    url, index = served
    _, asked = session(url, [("ask", {"question": QUESTION, "k": 1})])
    answer = asked.structured_content["answer"]
    _, opened, whole = session(url, [
        ("open_document", {"doc_id": answer["doc_id"], "start": answer["start"], "end": answer["end"],
                           "context": 10}),
        ("open_document", {"doc_id": answer["doc_id"], "context": 20_000}),
    ])
    excerpt = opened.structured_content
    text = Assistant.load(index).data.document(answer["doc_id"]).text
    assert excerpt["text"] == text[excerpt["text_start"]:excerpt["text_end"]]
    assert excerpt["text"][excerpt["start"] - excerpt["text_start"]:excerpt["end"] - excerpt["text_start"]] == (
        answer["text"])
    assert (excerpt["text_start"], excerpt["file"]) == (answer["start"] - 10, "rivers.txt")
    assert whole.structured_content["text"] == text and whole.structured_content["length"] == len(text)


@pytest.mark.parametrize(("name", "arguments", "message"), [
    ("ask", {"question": "   "}, "the question is empty: type a question"),
    ("search", {"question": "apples", "filters": {"date_from": "soon"}}, "filter date_from='soon' is not an ISO"),
    ("open_document", {"doc_id": "nowhere.txt"}, "there is no document 'nowhere.txt' in the index"),
    ("open_document", {"doc_id": "rivers.txt", "start": 10_000}, "start=10000 is outside the document"),
])
def test_errors_are_the_one_line_messages(served, name: str, arguments: dict, message: str) -> None:
    _, result = session(served[0], [(name, arguments)])
    assert result.is_error and message in result.content[0].text and "Traceback" not in result.content[0].text


def test_the_page_login_guards_the_mcp_server(small_corpus: Path, tmp_path: Path, embedder) -> None:
    build_index(small_corpus, tmp_path / "index", embedder, progress=False)
    app, url = serve_mcp(Workspace(tmp_path / "index", small_corpus), auth=("ana", "s3cret"))
    try:
        tools, asked = session(f"{url}mcp", [("ask", {"question": QUESTION})], auth=("ana", "s3cret"))
        assert len(tools) == 3 and not asked.is_error
        with pytest.raises(Exception, match="unhandled errors"):  # the SDK's group around its MCPError
            session(f"{url}mcp", [], auth=("ana", "wrong"))
        refused = httpx.post(f"{url}mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        assert refused.status_code == 401 and refused.json()["error"].startswith("sign in:")
    finally:
        app.close()


def test_excerpt_is_clipped_to_the_document_and_checks_its_offsets(small_corpus: Path, tmp_path: Path,
                                                                   embedder) -> None:
    build_index(small_corpus, tmp_path / "index", embedder, progress=False)
    assistant = Assistant.load(tmp_path / "index", embedder=embedder)
    text = assistant.data.document("apples.md").text
    start = text.index("Apples are harvested")
    excerpt = assistant.excerpt("apples.md", start, start + 6, context=3)
    assert excerpt.text == text[start - 3:start + 9] and (excerpt.page, excerpt.section) == (None, "Harvest")
    assert assistant.excerpt("apples.md", 0, len(text), context=50).text == text
    assert assistant.excerpt("apples.md", 5).text == text[:1005]  # end defaults to start, context to 1000
    for args, message in [(("apples.md", 5, 2), "end=2 is before start=5"), (("apples.md", -1), "start=-1"),
                          (("apples.md", "3"), "start must be a whole number"), ((None,), "no document None")]:
        with pytest.raises(QuestionError, match=message):
            assistant.excerpt(*args)
    with pytest.raises(QuestionError, match="context=-1 must be a whole number"):
        assistant.excerpt("apples.md", 0, context=-1)


@pytest.mark.slow  # starts `qa serve --mcp` in its own process
def test_qa_serve_mcp_serves_the_tools(tmp_path: Path) -> None:
    corpus = write_small_corpus(tmp_path / "corpus")
    env = {**os.environ, "QA_MODEL": "hashing-64", "GRADIO_ANALYTICS_ENABLED": "False", "NO_PROXY": "127.0.0.1"}
    proc = subprocess.Popen([sys.executable, "-m", "qa", "serve", "--mcp", "--index", str(tmp_path / "index"),
                             "--corpus", str(corpus), "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO)
    lines = Lines(proc.stdout)
    try:
        url = lines.until("the chat is at ", 240).split("the chat is at ", 1)[1].split()[0]
        assert lines.until("the MCP server at ", 30).strip().endswith(f"the MCP server at {url}mcp")
        tools, asked = session(f"{url}mcp", [("ask", {"question": QUESTION})])
        assert sorted(t.name for t in tools) == ["ask", "open_document", "search"]
        assert asked.structured_content["passages"][0]["file"] == "rivers.txt"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
