"""The JSON HTTP API through a plain HTTP client (httpx) against a real server on 127.0.0.1, and its OpenAPI
description checked against what the server really answers (schemathesis)."""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from qa.assistant import Assistant
from qa.index.build import build_index
from qa.serve.workspace import Workspace
from tests.conftest import REPO

QUESTION = "Which sea does the Danube end in?"


def serve(workspace: Workspace, **options):
    from qa.serve.app import build_app, launch

    app = build_app(workspace)
    _, url, _ = launch(app, port=0, prevent_thread_lock=True, workspace=workspace, **options)
    return app, url


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The page and its API over the small corpus, on a free loopback port, for the whole module."""
    from qa.embed.embedders import HashingEmbedder
    from tests.conftest import write_small_corpus

    root = tmp_path_factory.mktemp("api")
    corpus = write_small_corpus(root / "corpus")
    build_index(corpus, root / "index", HashingEmbedder(64), progress=False)
    workspace = Workspace(root / "index", corpus)
    app, url = serve(workspace)
    yield url, workspace
    app.close()


@pytest.mark.parametrize("body", [
    {"question": QUESTION},
    {"question": QUESTION, "k": 2, "mode": "lexical"},
    {"question": "When do apple trees flower?", "k": 3, "mode": "dense", "filters": {"source": "orchard"}},
    {"question": "apples", "filters": {"date_from": "2023", "date_to": "2023-05-31", "path": "*.md"}},
    {"question": QUESTION, "k": None, "mode": None, "filters": None, "history": []},
])
def test_ask_returns_what_qa_ask_json_prints(served, body: dict) -> None:
    url, workspace = served
    response = httpx.post(f"{url}api/ask", json=body)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    expected = Assistant.load(workspace.index_dir).ask(body["question"], k=body.get("k"), mode=body.get("mode"),
                                                       filters=body.get("filters")).to_dict()
    assert response.json() == expected and expected["passages"]


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"question": "   "}, 400, "the question is empty: type a question"),
    ({"question": "?!"}, 400, "the question has no words"),
    ({"question": "apples", "filters": {"date_from": "May 2023"}}, 400, "filter date_from='May 2023' is not an ISO"),
    ({"question": "apples", "filters": {"date_from": "2024", "date_to": "2023"}}, 400,
     "date_from=2024 is after date_to=2023: swap them"),
    ({"question": "apples", "k": 0}, 422, "invalid request: k: Input should be greater than or equal to 1"),
    ({"question": "apples", "k": "many"}, 422, "invalid request: k: Input should be a valid integer"),
    ({"question": "apples", "mode": "fuzzy"}, 422, "invalid request: mode: Input should be 'dense'"),
    ({"question": "apples", "filters": {"author": "x"}}, 422, "invalid request: filters.author: Extra inputs"),
    ({"question": "apples", "top_k": 3}, 422, "invalid request: top_k: Extra inputs are not permitted"),
    ({"k": 3}, 422, "invalid request: question: Field required"),
    ([QUESTION], 422, "invalid request: Input should be a valid dictionary"),
])
def test_bad_requests_get_one_line_json_errors(served, body, status: int, message: str) -> None:
    response = httpx.post(f"{served[0]}api/ask", json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error.startswith(message) and "\n" not in error and "Traceback" not in response.text
    assert set(response.json()) == {"error"}


def test_a_body_that_is_not_json_is_named(served) -> None:
    response = httpx.post(f"{served[0]}api/ask", content=b"question=apples",
                          headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"].startswith("invalid request: the body is not JSON")


def test_a_bug_is_one_line_and_a_500(served, monkeypatch: pytest.MonkeyPatch) -> None:
    url, workspace = served

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(workspace, "ask", broken)
    response = httpx.post(f"{url}api/ask", json={"question": QUESTION})
    assert response.status_code == 500
    assert response.json() == {"error": "unexpected error (RuntimeError); the details are in the server log"}


def test_status_and_documents_describe_the_live_index(served) -> None:
    url, workspace = served
    assistant = Assistant.load(workspace.index_dir)
    status = httpx.get(f"{url}api/status").json()
    info = assistant.info()
    assert status["ready"] is True and status["building"] is False
    assert (status["generation"], status["documents"], status["chunks"], status["model"]) == (
        info["generation"], info["documents"], info["chunks"], "hashing-64")
    assert (status["default_mode"], status["default_k"], status["max_k"]) == ("hybrid", 5, 100)

    listed = []
    for offset in (0, 2):
        page = httpx.get(f"{url}api/documents", params={"offset": offset, "limit": 2}).json()
        assert page["total"] == len(assistant.data.documents) and page["generation"] == info["generation"]
        listed += page["documents"]
    assert [d["doc_id"] for d in listed] == [d.doc_id for d in assistant.data.documents]
    rivers = next(d for d in listed if d["file"] == "rivers.txt")
    assert rivers["source"] == "Rivers of Europe" and rivers["characters"] == len(
        assistant.data.document("rivers.txt").text)
    assert httpx.get(f"{url}api/documents", params={"limit": 0}).status_code == 422


def test_without_an_index_ask_says_what_to_do_and_status_is_not_ready(tmp_path: Path) -> None:
    app, url = serve(Workspace(tmp_path / "index", tmp_path / "corpus"))
    try:
        response = httpx.post(f"{url}api/ask", json={"question": QUESTION})
        assert response.status_code == 409
        assert response.json()["error"].startswith("there is no index yet: add documents")
        status = httpx.get(f"{url}api/status").json()
        assert (status["ready"], status["generation"], status["documents"]) == (False, None, 0)
        assert httpx.get(f"{url}api/documents").status_code == 409
    finally:
        app.close()


def test_the_page_login_guards_the_api(small_corpus: Path, tmp_path: Path, embedder) -> None:
    build_index(small_corpus, tmp_path / "index", embedder, progress=False)
    app, url = serve(Workspace(tmp_path / "index", small_corpus), auth=("ana", "s3cret"))
    ask = f"{url}api/ask"
    try:
        for path in ("api/status", "api/documents", "openapi.json"):
            refused = httpx.get(f"{url}{path}")
            assert refused.status_code == 401 and refused.json()["error"].startswith("sign in:"), path
            assert refused.headers["www-authenticate"] == 'Basic realm="qa"'
        assert httpx.post(ask, json={"question": QUESTION}).status_code == 401
        assert httpx.post(ask, json={"question": QUESTION}, auth=("ana", "wrong")).status_code == 401
        assert httpx.post(ask, json={"question": QUESTION}, auth=("bob", "s3cret")).status_code == 401
        assert httpx.post(ask, json={"question": QUESTION}, auth=("ana", "s3cret")).status_code == 200
        garbled = {"authorization": "Basic " + base64.b64encode(b"no colon").decode()}
        assert httpx.get(f"{url}api/status", headers=garbled).status_code == 401
        page = httpx.Client()  # a login on the page signs the API in too
        assert page.post(f"{url}login", data={"username": "ana", "password": "s3cret"}).status_code == 200
        assert page.post(ask, json={"question": QUESTION}).status_code == 200
    finally:
        app.close()


def test_a_follow_up_with_its_history_is_searched_as_resolved(served) -> None:
    """Follow-up questions: the history of the request reaches ``Assistant.ask``, and the answer says what was
    searched; without a history the question is searched as asked."""
    url, _ = served
    first = httpx.post(f"{url}api/ask", json={"question": "What does the Danube flow through?", "mode": "lexical"})
    follow = httpx.post(f"{url}api/ask", json={"question": "Where does it end?", "mode": "lexical",
                                               "history": [{"question": first.json()["question"],
                                                            "answer": first.json()}]})
    assert follow.status_code == 200, follow.text
    assert follow.json()["searched_as"].startswith("Where does it end? Danube")
    assert follow.json()["passages"][0]["file"] == "rivers.txt"
    alone = httpx.post(f"{url}api/ask", json={"question": "Where does it end?", "mode": "lexical"}).json()
    assert alone["searched_as"] == "Where does it end?"


def test_the_description_names_the_api_routes_only(served) -> None:
    description = httpx.get(f"{served[0]}openapi.json").json()
    assert sorted(description["paths"]) == ["/api/ask", "/api/documents", "/api/status"]
    ask = description["paths"]["/api/ask"]["post"]
    assert sorted(ask["responses"]) == ["200", "400", "401", "409", "422"]
    fields = description["components"]["schemas"]["AskRequest"]["properties"]
    assert sorted(fields) == ["filters", "history", "k", "mode", "question"]


POSITIVE, NEGATIVE = schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE


@pytest.mark.parametrize(("path", "method", "mode"), [
    ("/api/ask", "POST", POSITIVE), ("/api/ask", "POST", NEGATIVE), ("/api/documents", "GET", POSITIVE),
    ("/api/documents", "GET", NEGATIVE), ("/api/status", "GET", POSITIVE)])
def test_every_answer_matches_the_description(served, path: str, method: str, mode) -> None:
    """Requests generated from /openapi.json, valid and not: no 5xx, and every status and body as described.

    A question the schema allows may still be refused (400: empty, no words, too long), as the description says,
    so for /api/ask a 4xx to a valid-looking body is no failure. (schemathesis's pytest plugin does not run under
    this pytest, so its strategies are driven by hypothesis here.)
    """
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    operation = schemathesis.openapi.from_url(f"{served[0]}openapi.json")[path][method]
    excluded = [positive_data_acceptance] if path == "/api/ask" else []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def answers_as_described(case) -> None:
        case.call_and_validate(excluded_checks=excluded)

    answers_as_described()


def readme_blocks(language: str, containing: str) -> list[str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    return [code for lang, code in re.findall(r"^```(\w+)\n(.*?)^```", readme, flags=re.S | re.M)
            if lang == language and containing in code]


def test_the_readme_curl_line_for_api_ask_works(served) -> None:
    url, workspace = served
    [command] = readme_blocks("bash", "/api/ask")
    command = command.replace("http://127.0.0.1:7860/", url)
    body = json.loads(shlex.split(command.replace("\\\n", " "))[-1])
    printed = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60,
                             env={**os.environ, "NO_PROXY": "127.0.0.1"})
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout) == Assistant.load(workspace.index_dir).ask(
        body["question"], k=body["k"], mode=body["mode"], filters=body["filters"]).to_dict()
    assert body["filters"] == {"source": "Institute for the Study of War"}  # the seed report's publisher: it matches


def test_the_readme_mcp_snippet_names_the_server_qa_serves() -> None:
    [snippet] = readme_blocks("json", "mcpServers")
    assert json.loads(snippet)["mcpServers"]["qa"] == {"type": "http", "url": "http://127.0.0.1:7860/mcp"}
