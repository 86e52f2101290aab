"""Security: nothing read from disk can run code; the served app binds to loopback, asks for a login when told to,
serves no file, and saves uploads only into the corpus under safe names; bad input in the page is a message.

The page's own events are private (not offered to API clients) but a browser reaches them over plain HTTP, and so
can anyone else: the tests here call them the way the browser does (``queue/join`` with the event's number), with
what a hostile client would send.
"""

from __future__ import annotations

import ast
import html
import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from qa.embed.embedders import HashingEmbedder
from qa.index.build import build_index
from tests.conftest import Lines, write_small_corpus
from tests.test_bad_input import QUESTIONS

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "qa"
MAX_UPLOAD = 4096


# --- nothing read from disk can run code -------------------------------------------------------------------------

FORBIDDEN = {
    r"\bimport pickle\b|\bpickle\.": "pickle",
    r"\b(c?Pickle|dill|joblib|shelve|marshal)\b": "a pickle-like serialiser",
    r"torch\.load\(": "torch.load (pickle inside)",
    r"allow_pickle\s*=\s*True": "numpy with pickles allowed",
    r"yaml\.(unsafe_)?load\(|yaml\.full_load|Loader\s*=\s*yaml\.(Unsafe)?Loader": "a YAML loader that builds objects",
    r"\beval\(|\bexec\(": "eval/exec",
}


def test_the_package_uses_no_code_executing_format() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        code = "\n".join(line.split("#", 1)[0] for line in path.read_text().splitlines())  # comments may mention it
        code = re.sub(r'""".*?"""', "", code, flags=re.S)  # and so may docstrings
        for pattern, what in FORBIDDEN.items():
            found += [f"{path.relative_to(REPO)}: {what}" for _ in re.finditer(pattern, code)]
    assert found == []


def test_every_numpy_and_bm25_load_refuses_pickles() -> None:
    """Each ``np.load`` / ``BM25.load`` call in the package passes ``allow_pickle=False`` explicitly."""
    calls = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "load":
                owner = ast.unparse(node.func.value)
                if owner in ("np", "numpy", "bm25s.BM25"):
                    keywords = {k.arg: ast.unparse(k.value) for k in node.keywords}
                    calls.append((f"{path.name}:{node.lineno}", keywords.get("allow_pickle")))
    assert calls and all(value == "False" for _, value in calls), calls


def test_the_packaged_model_is_safetensors_only() -> None:
    from qa.embed.embedders import packaged_model_dir

    files = {p.name for p in packaged_model_dir().rglob("*") if p.is_file()}
    assert "model.safetensors" in files
    assert not [f for f in files if f.endswith((".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt"))]


def test_yaml_front_matter_builds_no_objects(tmp_path: Path) -> None:
    from qa.ingest.readers import read_document

    marker = tmp_path / "pwned"  # a fresh folder: a marker left by an earlier run cannot hide or fake a result
    hostile = f"---\ntitle: !!python/object/apply:os.system ['touch {marker}']\n---\n# Body\nText.\n".encode()
    try:
        read_document(Path("x.md"), "x.md", hostile)
    except Exception as exc:  # refused is fine; running it is not
        assert "front matter" in str(exc)
    assert not marker.exists()


# --- the served app ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("secure")
    corpus = write_small_corpus(root / "corpus")
    build_index(corpus, root / "index", HashingEmbedder(64), progress=False)
    (root / "outside.txt").write_text("A file next to the corpus, never uploaded: zebras.")
    return root


@pytest.fixture(scope="module")
def workspace(app_root: Path):
    from qa.serve.workspace import Workspace

    return Workspace(app_root / "index", app_root / "corpus", max_upload_bytes=MAX_UPLOAD)


@pytest.fixture(scope="module")
def served(workspace):
    from qa.serve.app import build_app, launch

    app = build_app(workspace)
    _, url, _ = launch(app, port=0, prevent_thread_lock=True, max_upload_bytes=MAX_UPLOAD)
    yield app, url
    app.close()


ASK = ("qa-question", "submit")  # the question box's Enter: the page's ask event
ADD = ("qa-upload", "upload")  # the upload box's event


class Page:
    """What the browser does: upload to Gradio's cache, then run an event by its number over the queue."""

    def __init__(self, url: str):
        self.url, self.http = url, httpx.Client(timeout=60)

    def event(self, elem_id: str, event: str) -> tuple[int, int]:
        """The number of ``event`` on the component ``elem_id`` and the component's id, found in the page's
        config as the browser finds them."""
        config = self.http.get(f"{self.url}config").json()
        trigger = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == elem_id)
        number = next(d["id"] for d in config["dependencies"] if [trigger, event] in d["targets"])
        return number, trigger

    def run(self, trigger_event: tuple[str, str], data: list) -> dict:
        """The completed message, with the toasts shown on the way under "toasts"."""
        number, trigger = self.event(*trigger_event)
        session = uuid.uuid4().hex
        joined = self.http.post(f"{self.url}gradio_api/queue/join", json={
            "data": data, "fn_index": number, "trigger_id": trigger, "session_hash": session, "event_data": None})
        joined.raise_for_status()
        toasts = []
        with self.http.stream("GET", f"{self.url}gradio_api/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                message = json.loads(line[5:]) if line.startswith("data:") else {}
                if message.get("msg") == "log":
                    toasts.append(message)
                if message.get("msg") == "process_completed":
                    return {**message, "toasts": toasts}
        raise AssertionError("the event never completed")

    def upload(self, name: str, data: bytes) -> httpx.Response:
        return self.http.post(f"{self.url}gradio_api/upload", files=[("files", (name, data, "text/plain"))])

    def add(self, *files: tuple[str, str]) -> dict:
        """The upload box's event with (server path, name the browser claims) pairs."""
        payload = [{"path": path, "orig_name": name, "meta": {"_type": "gradio.FileData"}} for path, name in files]
        return self.run(ADD, [payload])


@pytest.fixture
def page(served) -> Page:
    return Page(served[1])


def corpus_files(root: Path) -> set[str]:
    return {p.relative_to(root / "corpus").as_posix() for p in (root / "corpus").rglob("*") if p.is_file()}


def everything_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


@pytest.mark.parametrize(
    ("claimed", "saved"),
    [("../../escape-1.txt", "escape-1.txt"), ("/etc/cron.d/escape-2.md", "escape-2.md"),
     ("..\\..\\escape-3.txt", "escape-3.txt"), (".hidden-4.md", "hidden-4.md"),
     ("sub/dir/escape-5.txt", "escape-5.txt")],
)
def test_uploads_through_the_page_land_in_the_corpus_only(claimed: str, saved: str, page: Page,
                                                          app_root: Path) -> None:
    before = everything_under(app_root)
    uploaded = page.upload(claimed, f"Zebra notes for {saved}.".encode())
    assert uploaded.status_code == 200
    cached = uploaded.json()[0]
    message = page.add((cached, claimed))
    assert message["success"], message
    new = everything_under(app_root) - before
    assert {n for n in new if not n.startswith("index/")} == {f"corpus/{saved}"}  # the corpus, a visible name
    assert page.http.get(f"{page.url}gradio_api/file={cached}").status_code in (403, 404)  # cache copy removed
    assert any(saved in str(item) for item in json.dumps(message["output"]["data"]).split("\\n"))


def test_a_file_that_was_not_uploaded_cannot_be_added(page: Page, app_root: Path) -> None:
    """A client naming a server path (next to the corpus, the index, /etc) gets nothing copied into the corpus."""
    before = corpus_files(app_root)
    for path in (app_root / "outside.txt", app_root / "index" / "CURRENT", Path("/etc/hostname"),
                 app_root / "corpus" / "rivers.txt"):
        assert page.add((str(path), path.name))["success"] is False
    assert corpus_files(app_root) == before


def test_upload_refusals_are_messages(page: Page, app_root: Path) -> None:
    (app_root / "corpus" / "notes.txt").write_text("Original notes.")
    before = corpus_files(app_root)
    big = page.upload("big.txt", b"x" * (MAX_UPLOAD + 1))
    assert big.status_code == 413 and "maximum allowed size" in big.text
    exe = page.add((page.upload("tool.exe", b"MZ binary").json()[0], "tool.exe"))  # refused by the upload box
    assert exe["success"] is False and "Invalid file type" in exe["output"]["error"]
    same = page.add((page.upload("notes.txt", b"Original notes.").json()[0], "notes.txt"))
    assert "already in the corpus with the same content" in json.dumps(same["output"]["data"])
    assert corpus_files(app_root) == before
    renamed = page.add((page.upload("notes.txt", b"Different notes.").json()[0], "notes.txt"))
    assert "saved as notes-2.txt" in json.dumps(renamed["output"]["data"])
    assert (app_root / "corpus" / "notes.txt").read_text() == "Original notes."


def test_no_file_outside_is_served(served, app_root: Path) -> None:
    """Gradio's file route and every static route: traversal, encoded, absolute; the corpus and index too."""
    _, url = served
    generation = (app_root / "index" / "CURRENT").read_text().strip()
    targets = ["/etc/passwd", str(app_root / "outside.txt"), str(app_root / "corpus" / "rivers.txt"),
               str(app_root / "index" / "generations" / generation / "documents.jsonl"),
               str(app_root / "index" / "cache" / "embeddings.sqlite"),
               str(REPO / "qa" / "serve" / "chat_page.py")]  # where build_app is defined
    urls = []
    for target in targets:
        urls += [f"gradio_api/file={target}", f"file={target}", f"gradio_api/file={target.replace('/', '%2F')}",
                 f"gradio_api/file=../../../../../../..{target}", f"gradio_api/file=/tmp/gradio/../..{target}"]
    urls += ["static/../../../../../../etc/passwd", "static/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
             "assets/..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd", "gradio_api/file=corpus/rivers.txt",
             "gradio_api/file=index/CURRENT", "favicon.ico/../../../etc/passwd", "gradio_api/proxy=file:///etc/passwd"]
    secrets = ["root:x:0:0", "zebras", "Danube", "SQLite format", "def build_app"]
    for path in urls:
        response = httpx.get(url + path, follow_redirects=True)
        leaked = [s for s in secrets if s in response.text]
        assert not leaked, (path, response.status_code, leaked)
        assert response.status_code in (400, 403, 404, 405) or "<!doctype html>" in response.text.lower()[:100], path


@pytest.mark.parametrize(("question", "refusal"), [c[1:] for c in QUESTIONS], ids=[c[0] for c in QUESTIONS])
def test_bad_questions_in_the_page_are_one_line_messages(question: str, refusal: str | None, page: Page) -> None:
    message = page.run(ASK, [question, [], {}, 3, "hybrid", "", "", ""])
    assert message["success"], message  # the conversation stays; a refusal is a toast beside it
    if refusal is None:
        assert message["toasts"] == [] and "qa-passage" in json.dumps(message["output"]["data"])
        return
    [toast] = message["toasts"]
    assert (toast["level"], toast["title"]) == ("warning", "Cannot answer")
    assert re.search(refusal, html.unescape(toast["log"])) and "Traceback" not in toast["log"]


@pytest.mark.parametrize("k", [0, -1, 1000, "lots"])
def test_bad_k_through_the_api_is_a_message(k, served) -> None:
    from gradio_client import Client

    client = Client(served[1], verbose=False)
    with pytest.raises(Exception, match="k=.* is out of range|whole number|must be") as caught:
        client.predict("Danube", k, "", api_name="/ask")
    assert "Traceback" not in str(caught.value)


def test_an_unexpected_error_reaches_the_page_and_the_api_as_one_line(served, page: Page, workspace,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug (not a QAError) while answering: the running page's toast and the /ask API's error are one line that
    names none of its details; the traceback stays in the server log."""
    from gradio_client import Client

    def broken(*args, **kwargs):
        raise RuntimeError(f"boom: {workspace.index_dir} is private")

    monkeypatch.setattr(workspace, "ask", broken)
    shown = "unexpected error (RuntimeError); the details are in the server log"
    message = page.run(ASK, ["Which sea does the Danube end in?", [], {}, 3, "hybrid", "", "", ""])
    [toast] = message["toasts"]
    assert message["success"] and (toast["level"], toast["log"]) == ("warning", shown)
    with pytest.raises(Exception) as caught:  # noqa: B017 (gradio_client's AppError)
        Client(served[1], verbose=False).predict("Danube", 2, "", api_name="/ask")
    assert str(caught.value) == shown
    answered = httpx.post(f"{served[1]}gradio_api/call/ask", json={"data": ["Danube", 2, None]})
    body = httpx.get(f"{served[1]}gradio_api/call/ask/{answered.json()['event_id']}", timeout=30).text
    event, data = body.split("\n")[:2]
    assert event == "event: error" and json.loads(data.removeprefix("data:"))["error"] == shown, body
    for text in (json.dumps(message), body):
        assert "Traceback" not in text and "boom" not in text and 'File "' not in text


# --- `qa serve` as users start it --------------------------------------------------------------------------------


def listening_addresses(port: int) -> set[str]:
    """Local addresses of sockets listening on ``port``, from /proc/net/tcp and tcp6 (Linux)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                if len(raw) == 4:
                    found.add(socket.inet_ntop(socket.AF_INET, raw[::-1]))
                else:
                    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                    found.add(socket.inet_ntop(socket.AF_INET6, words))
    return found


def test_the_listening_check_sees_a_socket_open_to_all() -> None:
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        sock.listen()
        assert listening_addresses(sock.getsockname()[1]) == {"0.0.0.0"}


def other_address() -> str | None:
    """This machine's address on its default route, if it has one (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("10.255.255.255", 1))
            address = sock.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


@pytest.fixture(scope="module")
def qa_serve(app_root: Path):
    """`qa serve` in its own process, defaults only but ``--port 0``, with a login from the environment; the port
    is read from what it prints (``--port 0`` binds any free one, so no other process can take it first)."""
    env = {**os.environ, "QA_MODEL": "hashing-64", "QA_AUTH": "ana:s3cret", "GRADIO_ANALYTICS_ENABLED": "False",
           "NO_PROXY": "127.0.0.1"}
    proc = subprocess.Popen([sys.executable, "-m", "qa", "serve", "--index", str(app_root / "index"), "--corpus",
                             str(app_root / "corpus"), "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO)
    lines = Lines(proc.stdout)  # drained for the server's whole life: a full pipe would block it
    try:
        first = lines.next(120)
        port = re.match(r"qa: the chat is at http://127\.0\.0\.1:(\d+)/", first)
        assert port, first
        yield proc, int(port[1]), first
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.slow  # starts `qa serve` in its own process
def test_serve_listens_on_loopback_only_and_opens_no_share_link(qa_serve) -> None:
    proc, port, first = qa_serve
    assert first.startswith(f"qa: the chat is at http://127.0.0.1:{port}/"), first
    assert "gradio.live" not in first and "share" not in first.lower()
    assert listening_addresses(port) == {"127.0.0.1"}
    address = other_address()
    if address:
        with socket.socket() as sock:
            sock.settimeout(2)
            assert sock.connect_ex((address, port)) != 0, f"reachable on {address}"


@pytest.mark.slow  # starts `qa serve` in its own process
def test_serve_with_a_login_refuses_the_api_without_credentials(qa_serve) -> None:
    from gradio_client import Client

    _, port, _ = qa_serve
    url = f"http://127.0.0.1:{port}/"
    assert httpx.get(f"{url}config").status_code == 401
    anonymous = httpx.post(f"{url}gradio_api/call/ask", json={"data": ["Danube", 2, ""]})
    assert anonymous.status_code == 401 and "Danube" not in anonymous.text
    assert httpx.post(f"{url}gradio_api/queue/join", json={"data": [], "fn_index": 0, "session_hash": "x"}
                      ).status_code == 401
    with pytest.raises(Exception):  # noqa: B017 (gradio_client raises its own or httpx's error)
        Client(url, verbose=False)
    client = Client(url, auth=("ana", "s3cret"), verbose=False)
    started = time.perf_counter()
    result = client.predict("Which sea does the Danube end in?", 2, "", api_name="/ask")
    assert result["passages"][0]["file"] == "rivers.txt" and time.perf_counter() - started < 60


OPEN = ("qa-open-go", "click")  # the hidden button an answer's "open" link presses


@pytest.mark.parametrize("request_text", ["#qa-open/1/1", "#qa-open/1/1/../../outside.txt", "../outside.txt",
                                          "<script>alert(1)</script>", ""])
def test_the_viewer_opens_no_file_a_request_names(request_text: str, page: Page) -> None:
    """The open event takes a request and the kept results; a client that sends results of its own naming a file
    outside the index gets a message: the results used are the session's own (empty here), never the client's."""
    forged = {"1": {"question": "zebras", "answer": None, "passages": [
        {"rank": 1, "doc_id": "../outside.txt", "start": 0, "end": 6, "text": "A file"}]}}
    done = page.run(OPEN, [request_text, forged])
    said = json.dumps(done)
    assert "zebras" not in said.replace('"question": "zebras"', "") and "never uploaded" not in said
    assert any("no longer on the page" in toast.get("log", "") for toast in done["toasts"]), done
    assert "Traceback" not in said
