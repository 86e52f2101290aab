"""Nothing leaves the machine from the server side: `qa serve`, started with none of the opt-out variables set
(``GRADIO_ANALYTICS_ENABLED``, ``HF_HUB_OFFLINE``, any ``*TELEMETRY*``, ``DO_NOT_TRACK``), answers a question and
tries to reach no address but its own.

How: the server runs in a fresh network namespace that has only loopback (``unshare -n``), under ``strace -f``
recording every ``connect``, ``sendto`` and ``sendmsg`` of every thread and child process; the question is asked
through the namespace's own 127.0.0.1 (``nsenter``). An attempt to reach 8.8.8.8 fails there (no route) but is still
in the trace, so the test catches an attempt, not only a success. The trace must also hold the server's connection
to itself (Gradio checks its own address at start): proof that the trace sees the server's connections at all.

Needs root (for the namespace), ``unshare``/``nsenter``/``ip`` (util-linux, iproute2) and ``strace``, which
``scripts/test.sh`` installs; elsewhere the tests are skipped with the reason.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, SEED_CORPUS, Lines, write_small_corpus

OPT_OUT = re.compile(r"ANALYTICS|TELEMETRY|OFFLINE|TRACK")  # every variable that could turn a phone-home off
# Asked from inside the namespace: the README's plain-HTTP call, printing the top passage's file.
ASK = """import httpx, json, sys
url, question = sys.argv[1:]
event = httpx.post(f"{url}gradio_api/call/ask", json={"data": [question, 3, None]}).json()["event_id"]
body = httpx.get(f"{url}gradio_api/call/ask/{event}", timeout=120).text
print(json.loads(body.split("data:", 1)[1])[0]["passages"][0]["file"] if "event: complete" in body else body)
"""


def _cannot_run_here() -> str | None:
    if sys.platform != "linux" or os.geteuid() != 0:
        return "needs root on Linux for a network namespace (unshare -n)"
    for tool in ("unshare", "nsenter", "ip", "strace"):
        if not shutil.which(tool):
            return f"{tool} is missing (scripts/test.sh installs strace; unshare, nsenter: util-linux; ip: iproute2)"
    probe = subprocess.run(["unshare", "-n", "ip", "link", "set", "lo", "up"], capture_output=True, text=True,
                           timeout=30)
    if probe.returncode:
        return f"cannot make a network namespace here: {probe.stderr.strip()}"
    return None


def addresses_tried(trace: str) -> set[tuple[str, int]]:
    """(address, port) of every IPv4/IPv6 connect, sendto and sendmsg in an ``strace`` log, failed ones too, e.g.
    ``('8.8.8.8', 53)`` from ``connect(5, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("8.8.8.8")},
    16) = -1 ENETUNREACH``."""
    pattern = (r"sa_family=AF_INET6?, sin6?_port=htons\((\d+)\),.*?(?:inet_addr\(|inet_pton\(AF_INET6, )"
               r"\"([^\"]+)\"")
    return {(address, int(port)) for port, address in re.findall(pattern, trace)}


def is_this_machine(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    ip = getattr(ip, "ipv4_mapped", None) or ip
    return ip.is_loopback or ip.is_unspecified


@pytest.fixture
def serve_offline(tmp_path: Path) -> Iterator:
    """Start `qa serve --port 0` in a loopback-only namespace under strace; a function that asks it a question
    from inside the namespace and returns the top passage's file and the (address, port) pairs the server tried."""
    reason = _cannot_run_here()
    if reason:
        pytest.skip(reason)
    started: list[tuple[subprocess.Popen, Path]] = []

    def start(index: Path, corpus: Path, env: dict[str, str]) -> str:
        trace = tmp_path / "connect.trace"
        env = {name: value for name, value in env.items() if not OPT_OUT.search(name)}
        command = [sys.executable, "-m", "qa", "serve", "--index", str(index), "--corpus", str(corpus), "--port", "0"]
        proc = subprocess.Popen(
            ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", "strace", "-f", "--seccomp-bpf",
             "-qq", "-e", "trace=connect,sendto,sendmsg", "-o", str(trace), *command],
            cwd=REPO, env={**env, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        started.append((proc, trace))
        lines = Lines(proc.stdout)
        return lines.until("the chat is at ", 600).split("the chat is at ", 1)[1].split()[0]

    def ask(url: str, question: str) -> tuple[str, set[tuple[str, int]]]:
        proc, trace = started[-1]
        asked = subprocess.run(["nsenter", "-t", str(proc.pid), "-n", sys.executable, "-c", ASK, url, question],
                               capture_output=True, text=True, timeout=180, cwd=REPO)
        assert asked.returncode == 0, asked.stderr[-2000:]
        return asked.stdout.strip(), addresses_tried(trace.read_text())

    yield start, ask
    for proc, _ in started:  # stop the server itself: strace stopped first would leave it running, untraced
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
        for child in children.read_text().split() if children.exists() else []:
            os.kill(int(child), signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


def assert_only_itself(url: str, tried: set[tuple[str, int]]) -> None:
    port = int(url.rstrip("/").rsplit(":", 1)[1])
    assert ("127.0.0.1", port) in tried, f"the trace does not see the server's own connections: {tried}"
    assert {(address, p) for address, p in tried if not is_this_machine(address) or p != port} == set()


def test_the_trace_catches_an_attempt_that_fails_for_want_of_a_route(tmp_path: Path) -> None:
    """The check itself: a process in such a namespace that tries 8.8.8.8 and 2001:4860:4860::8888 (and fails)."""
    reason = _cannot_run_here()
    if reason:
        pytest.skip(reason)
    trace = tmp_path / "connect.trace"
    tries = ("import socket\nfor address in ('8.8.8.8', '2001:4860:4860::8888'):\n"
             "    with socket.socket(socket.AF_INET6 if ':' in address else socket.AF_INET) as sock:\n"
             "        print(sock.connect_ex((address, 53)))\n")
    ran = subprocess.run(["unshare", "-n", "strace", "-f", "--seccomp-bpf", "-qq", "-e", "trace=connect,sendto,sendmsg",
                          "-o", str(trace), sys.executable, "-c", tries], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0 and "0" not in ran.stdout.split(), ran  # both refused: there is no route
    tried = addresses_tried(trace.read_text())
    assert tried == {("8.8.8.8", 53), ("2001:4860:4860::8888", 53)}
    assert not any(is_this_machine(address) for address, _ in tried)


def test_serve_with_no_opt_out_set_reaches_nothing_but_itself(serve_offline, tmp_path: Path) -> None:
    start, ask = serve_offline
    corpus = write_small_corpus(tmp_path / "corpus")
    url = start(tmp_path / "index", corpus, {**os.environ, "QA_MODEL": "hashing-64"})  # qa serve builds the index
    top, tried = ask(url, "Which sea does the Danube end in?")
    assert top == "rivers.txt"
    assert_only_itself(url, tried)


@pytest.mark.slow  # the real model, run by OpenVINO: its telemetry is what must stay off
def test_serve_with_the_real_model_on_openvino_reaches_nothing_but_itself(serve_offline, tmp_path: Path) -> None:
    pytest.importorskip("openvino")
    start, ask = serve_offline
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(SEED_CORPUS, corpus)
    env = {name: value for name, value in os.environ.items() if name != "QA_MODEL"}
    built = subprocess.run([sys.executable, "-m", "qa", "index", "--corpus", str(corpus), "--index", str(index),
                            "--variant", "openvino-fp32", "-q"], capture_output=True, text=True, timeout=600,
                           cwd=REPO, env=env)
    assert built.returncode == 0, built.stderr[-2000:]
    url = start(index, corpus, env)  # questions are embedded with the variant the index was built with
    top, tried = ask(url, "When did Russia withdraw its S-300 systems from Syria?")
    assert top == "isw-2024-11-30-russia-iran-syria.md"
    assert_only_itself(url, tried)
