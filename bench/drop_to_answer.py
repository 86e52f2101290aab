"""The time from a file dropped into a watched corpus to its first answer (`qa serve --watch`, issue 13).

    .venv/bin/python bench/drop_to_answer.py                          # packaged model, seed corpus, 5 drops, 2 s quiet
    .venv/bin/python bench/drop_to_answer.py --quiet-seconds 0.5 --drops 3 --model hashing-64 --mode lexical

In a private temporary folder: the seed corpus is copied and indexed, then the server's own watcher starts
(``Workspace.watch``, what `qa serve --watch` runs) and a client asks the drop's question every 50 ms from the
workspace the chat uses. Each drop writes a new document (a few paragraphs and one marker sentence) into the
corpus; the figure is the time from the end of that write to the first answer whose top passage is the new file.
It is the quiet time the watcher waits (nothing changed for ``--quiet-seconds``) plus the incremental rebuild
(reading, embedding the new chunks, writing and swapping the generation) plus the reload and one question.
Printed as JSON and written to ``bench/results/drop_to_answer.json``, with the load average and the machine.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a file: the repository's bench and qa

from bench.common import load_average, machine, percentiles  # noqa: E402

POLL_SECONDS = 0.05
DEADLINE_SECONDS = 120
WORDS = ("reservoir", "rainfall", "morning", "level", "team", "gauge", "valley", "spillway", "sediment", "pump",
         "channel", "inflow", "outflow", "drought", "season", "basin", "weir", "station", "sample", "record",
         "turbidity", "catchment", "aquifer", "meadow", "bridge", "culvert", "survey", "depth", "shore", "flood")


def marker_document(number: int) -> tuple[str, str, str]:
    """(file name, text, question) of drop ``number``: a question only that document answers. Its other words are
    drawn at random, so no two drops share enough text to be collapsed as copies of one another."""
    rng = random.Random(number)
    paragraphs = [" ".join(rng.choice(WORDS) for _ in range(60)).capitalize() + "." for _ in range(3)]
    code, name = f"{number * 7919 % 100_000:05d}", f"kestrel{number}"  # a word no other document has
    text = (f"# Reservoir {name}\n\n{paragraphs[0]}\n\n{paragraphs[1]} The access code of the {name} reservoir "
            f"is {code}.\n\n{paragraphs[2]}\n")
    return f"drops/{name}.md", text, f"What is the access code of the {name} reservoir?"


def first_answer(workspace, question: str, name: str, started: float, mode: str) -> float:
    """Seconds from ``started`` until ``question`` is answered from ``name`` first."""
    while time.perf_counter() - started < DEADLINE_SECONDS:
        result = workspace.ask(question, 1, mode=mode)
        if result.passages and result.passages[0].path == name:
            return time.perf_counter() - started
        time.sleep(POLL_SECONDS)
    raise SystemExit(f"no answer from {name} within {DEADLINE_SECONDS} s: is the watcher running?")


def drop(workspace, watcher, number: int, mode: str) -> dict[str, float]:
    """Write drop ``number`` into the corpus and time it to its first answer."""
    name, text, question = marker_document(number)
    path = workspace.corpus_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    rebuilds = watcher.state.rebuilds
    path.write_text(text, encoding="utf-8")
    started = time.perf_counter()
    seconds = first_answer(workspace, question, name, started, mode)
    report = watcher.state.report if watcher.state.rebuilds > rebuilds else None
    return {"seconds": round(seconds, 3), "rebuild_seconds": report.seconds if report else None,
            "chunks_embedded": report.chunks_embedded if report else None}


def run(args: argparse.Namespace) -> dict:
    from qa.serve.workspace import Workspace

    with tempfile.TemporaryDirectory(prefix="qa-drop-") as tmp:
        corpus, index = Path(tmp) / "corpus", Path(tmp) / "index"
        shutil.copytree(REPO / "corpus", corpus)
        workspace = Workspace(index, corpus, model=args.model)
        workspace.rebuild(progress=False)
        workspace.warm_up()
        watcher = workspace.watch(args.quiet_seconds)
        time.sleep(0.5)  # the inotify watches are in place a moment after the thread starts
        try:
            drops = [drop(workspace, watcher, number, args.mode) for number in range(1, args.drops + 1)]
        finally:
            watcher.stop()
        model = workspace.assistant.data.manifest.model
    totals = [d["seconds"] * 1000 for d in drops]
    return {"model": model.name, "variant": model.variant, "mode": args.mode, "quiet_seconds": args.quiet_seconds,
            "drops": drops, "seconds": {k: round(v / 1000, 3) for k, v in percentiles(totals).items()},
            "max_seconds": round(max(totals) / 1000, 3), "load_average": load_average(), "machine": machine()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--drops", type=int, default=5, help="files dropped one after the other (default: 5)")
    parser.add_argument("--quiet-seconds", type=float, default=2.0,
                        help="the watcher's quiet time, as `qa serve --watch --quiet-seconds` (default: 2)")
    parser.add_argument("--model", default=None, help="QA_MODEL to index with (default: the packaged model)")
    parser.add_argument("--mode", default="hybrid", help="search mode of the question (default: hybrid; the "
                        "hashing model finds the marker word only in lexical)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "drop_to_answer.json")
    args = parser.parse_args()
    if not 1 <= args.drops <= 50 or args.quiet_seconds <= 0:
        raise SystemExit("--drops must be 1 to 50 and --quiet-seconds above 0")
    summary = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))
    print(json.dumps({k: v for k, v in summary.items() if k != "machine"}, indent=2))


if __name__ == "__main__":
    main()
