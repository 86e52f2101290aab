"""`qa index` of the first N SciFact documents as a process, against the bare sentence-transformers script.

    .venv/bin/python bench/versus_bare.py --docs 1000 --rounds 2 [--variant auto]

Alternates the two commands ``--rounds`` times (the machine may be shared: alternation spreads the disturbance
over both), each a fresh process and, for `qa index`, a fresh index folder, with the model already converted in
the per-user model cache (the state of every index after a user's first). Prints each wall time with the load
average beside it, and JSON at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import scifact  # noqa: E402


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    return round(time.perf_counter() - started, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--variant", default="auto")
    args = parser.parse_args(argv)
    results: dict[str, list] = {"qa index": [], "bare script": []}
    with tempfile.TemporaryDirectory(prefix="qa-vs-bare-") as tmp:
        work = Path(tmp)
        corpus = scifact.write_corpus(work / "corpus", scifact.corpus_lines()[:args.docs]).parent
        # the one-time conversion (and measurement), outside the timed runs: a 5-document index
        tiny = scifact.write_corpus(work / "tiny", scifact.corpus_lines()[:5]).parent
        subprocess.run([sys.executable, "-m", "qa", "index", "--corpus", str(tiny), "--index", str(work / "warm"),
                        "--variant", args.variant, "-q"], check=True, cwd=REPO, stdout=subprocess.DEVNULL)
        for r in range(args.rounds):
            qa_cmd = [sys.executable, "-m", "qa", "index", "--corpus", str(corpus), "--index", str(work / f"i{r}"),
                      "--variant", args.variant, "-q"]
            bare_cmd = [sys.executable, "bench/bare_st.py", "--docs", str(args.docs), "--out", str(work / "b.npy")]
            for name, command in (("qa index", qa_cmd), ("bare script", bare_cmd)):
                seconds = timed(command)
                results[name].append({"seconds": seconds, "load_average": [round(x, 2) for x in os.getloadavg()]})
                print(f"{name}: {seconds} s, load average {os.getloadavg()[0]:.2f}", flush=True)
        report = json.loads(subprocess.run([sys.executable, "-m", "qa", "index", "--corpus", str(corpus), "--index",
                                            str(work / "i0"), "--json", "-q"], check=True, cwd=REPO,
                                           capture_output=True, text=True).stdout)
    print(json.dumps({"docs": args.docs, "qa_chunks": report["chunks"], **results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
