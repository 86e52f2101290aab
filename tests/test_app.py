"""The served app in-process (fast embedder): the /ask API, what the server serves, login, and `qa serve` flags."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from qa.assistant import Assistant
from qa.errors import SettingsError
from qa.index.build import build_index
from qa.serve.workspace import Workspace


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One app over the small corpus, served on a free loopback port (port 0) for the whole module."""
    from qa.embed.embedders import HashingEmbedder
    from qa.serve.app import build_app, launch
    from tests.conftest import write_small_corpus

    root = tmp_path_factory.mktemp("app")
    corpus = write_small_corpus(root / "corpus")
    build_index(corpus, root / "index", HashingEmbedder(64), progress=False)
    app = build_app(Workspace(root / "index", corpus))
    _, url, _ = launch(app, port=0, prevent_thread_lock=True)
    yield url, root / "index", corpus
    app.close()


def test_ask_endpoint_returns_what_qa_ask_json_prints(served) -> None:
    from gradio_client import Client

    url, index, _ = served
    # gradio_client with its defaults, as the page's "Use via API" shows it: it downloads every dict of a result
    # with a string "path" as a file (403), which is why passages and answers name their file "file".
    client = Client(url, verbose=False)
    question = "Which sea does the Danube end in?"
    got = client.predict(question, 2, "", api_name="/ask")
    assert got == Assistant.load(index).ask(question, k=2).to_dict()
    assert got["passages"][0]["file"] == "rivers.txt" and len(got["passages"]) == 2
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert sorted(endpoints) == ["/ask", "/document", "/page"]


@pytest.mark.parametrize("mode", ["lexical", "dense"])
def test_ask_endpoint_takes_a_mode_as_the_readme_calls_it(mode: str, served) -> None:
    """The README's call with a mode other than the default, positionally and by name (k left at its default)."""
    from gradio_client import Client

    url, index, _ = served
    client = Client(url)  # as the README writes it
    question = "Which sea does the Danube end in?"
    assistant = Assistant.load(index)
    got = client.predict(question, 3, mode, api_name="/ask")
    assert got == assistant.ask(question, k=3, mode=mode).to_dict() and got["mode"] == mode
    by_name = client.predict(question, mode=mode, api_name="/ask")
    assert by_name == assistant.ask(question, mode=mode).to_dict()
    hybrid = assistant.ask(question, k=3, mode="hybrid").to_dict()
    assert [p["score"] for p in got["passages"]] != [p["score"] for p in hybrid["passages"]]  # searched as asked


def test_ask_endpoint_errors_are_one_line_messages(served) -> None:
    from gradio_client import Client

    client = Client(served[0], verbose=False)
    with pytest.raises(Exception, match="the question is empty: type a question") as caught:
        client.predict("   ", 3, "", api_name="/ask")
    assert "Traceback" not in str(caught.value)
    with pytest.raises(Exception, match="k=0 is out of range"):
        client.predict("apples", 0, "", api_name="/ask")


def test_serves_no_file_from_disk(served) -> None:
    url, index, corpus = served
    for path in (corpus / "rivers.txt", index / "CURRENT", Path("/etc/passwd"), Path(__file__)):
        response = httpx.get(f"{url}gradio_api/file={path}")
        assert response.status_code == 403, path


def test_page_and_theme_load_nothing_from_outside(served) -> None:
    url = served[0]
    page = httpx.get(url).text
    theme = httpx.get(f"{url}theme.css").text
    assert "qa · ask your documents" in page
    for text in (theme, page.split("<body", 1)[0]):
        assert "fonts.googleapis" not in text and "@import url(http" not in text
    assert "ui-sans-serif" in theme and "static/fonts" not in theme


def test_login_is_required_when_asked(small_corpus: Path, tmp_path: Path, embedder) -> None:
    from qa.serve.app import build_app, launch

    build_index(small_corpus, tmp_path / "index", embedder, progress=False)
    app = build_app(Workspace(tmp_path / "index", small_corpus))
    _, url, _ = launch(app, port=0, auth=("ana", "s3cret"), prevent_thread_lock=True)
    try:
        assert httpx.get(f"{url}config").status_code == 401
        client = httpx.Client()
        assert client.post(f"{url}login", data={"username": "ana", "password": "wrong"}).status_code == 400
        assert client.post(f"{url}login", data={"username": "ana", "password": "s3cret"}).status_code == 200
        assert client.get(f"{url}config").status_code == 200
    finally:
        app.close()


def test_port_0_serves_on_the_port_bound_and_tries_another_when_one_is_taken(
        small_corpus: Path, tmp_path: Path, embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    """The race port 0 closes: the port the system offered is taken before Gradio binds it."""
    from qa.serve import app as serving

    build_index(small_corpus, tmp_path / "index", embedder, progress=False)
    app = serving.build_app(Workspace(tmp_path / "index", small_corpus))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        offers = [taken.getsockname()[1], serving.free_port()]
        monkeypatch.setattr(serving, "free_port", lambda host: offers.pop(0))
        _, url, _ = serving.launch(app, port=0, prevent_thread_lock=True)
        try:
            assert offers == [] and urlsplit(url).port not in (0, taken.getsockname()[1])
            assert "qa · ask your documents" in httpx.get(url).text
        finally:
            app.close()


def test_the_page_can_be_built_over_a_loaded_assistant(small_corpus: Path, tmp_path: Path, embedder) -> None:
    from qa.serve.app import build_app

    build_index(small_corpus, tmp_path / "index", embedder, progress=False)
    assistant = Assistant.load(tmp_path / "index")
    workspace = Workspace(assistant.index_dir, small_corpus, assistant=assistant)
    build_app(workspace)
    assert workspace.assistant is assistant and workspace.corpus_dir == small_corpus


@pytest.mark.parametrize("value", ["nopassword", ":x", "user:", ""])
def test_auth_must_be_user_colon_password(value: str) -> None:
    from qa.serve.app import parse_auth

    if value == "":
        assert parse_auth(value) is None
        return
    with pytest.raises(SettingsError, match="USER:PASSWORD"):
        parse_auth(value)
    assert parse_auth("ana:pa:ss") == ("ana", "pa:ss")


def test_serve_defaults_to_loopback_and_no_share() -> None:
    from qa.serve.cli import build_parser

    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.share, args.auth) == ("127.0.0.1", 7860, False, None)


def test_ask_over_plain_http(served) -> None:
    url = served[0]
    started = httpx.post(f"{url}gradio_api/call/ask", json={"data": ["Which sea does the Danube end in?", None, None]})
    body = httpx.get(f"{url}gradio_api/call/ask/{started.json()['event_id']}", timeout=30).text
    assert body.startswith("event: complete"), body
    result = json.loads(body.split("data:", 1)[1])[0]
    assert result["passages"][0]["file"] == "rivers.txt" and result["mode"] == "hybrid"
