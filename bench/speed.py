"""Speed and scale benchmark: every figure of docs/benchmarks.md, measured on this machine.

    .venv/bin/python bench/speed.py                      # the full run (about 30-40 min on 2 cores)
    .venv/bin/python bench/speed.py --quick              # a smoke run of every section (a few minutes)
    .venv/bin/python bench/speed.py --reuse-index DIR    # start from a SciFact index built earlier (skips
                                                         # embedding the 11,622 chunks again)

Each section runs in its own process (its peak memory is its own). Figures are printed as they come, written
to ``bench/results/speed-<time>.json`` and rendered as a markdown table (``bench/results/speed-<time>.md``);
``--write-docs`` also puts that table into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import report  # noqa: E402
from bench.common import load_average, machine  # noqa: E402

FULL = {"build_docs": 1000, "corpus_docs": None, "queries": 300, "dense_sizes": [100_000, 1_000_000],
        "stack_sizes": [100_000, 1_000_000], "quality_sample": 1024}
# quick: small sizes, and no quality section (it embeds all of SciFact twice over)
QUICK = {"build_docs": 100, "corpus_docs": 500, "queries": 40, "dense_sizes": [100_000], "stack_sizes": [30_000],
         "quality_sample": 0}
SECTIONS = ("build", "raw_encode", "full_index", "incremental", "query", "memory", "cold", "dense_scale",
            "stack_scale", "quality")


def run_section(name: str, work: Path, params: dict) -> dict:
    """One section in this process (called in the child)."""
    from bench import scale, sections

    reuse = Path(params["reuse"]) if params.get("reuse") else None
    if name == "build":
        return sections.build(work, params["build_docs"])
    if name == "raw_encode":
        return sections.raw_encode(work)
    if name == "full_index":
        return sections.full_index(work, reuse, params["corpus_docs"])
    if name == "incremental":
        return sections.incremental(work)
    if name == "query":
        return sections.query(work, params["queries"])
    if name == "memory":
        return sections.memory(work)
    if name == "cold":
        return sections.cold(work)
    if name == "dense_scale":
        return scale.dense(work, params["dense_sizes"], ["flat", "hnsw", "ivf"])
    if name.startswith("stack"):  # stack_build_<n>, stack_query_<n>, stack_memory_<n>: the whole assistant over a
        step, size = name.split("_")[1], int(name.split("_")[2])  # synthetic index of n chunks, each step fresh
        target = work / f"synthetic-{size}"
        if step == "build":
            return scale.synthetic_index(work / "scifact-index", target, size)
        if step == "query":
            return sections.query(work, params["queries"], target)
        return sections.memory(work, target)
    if name == "quality":
        return sections.quality(work, reuse, params["quality_sample"])
    raise SystemExit(f"unknown section {name!r}: use one of {', '.join(SECTIONS)}")


def spawn(name: str, work: Path, params: dict) -> dict:
    out = work / f"{name}.json"
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--section", name, "--work", str(work),
                           "--params", json.dumps(params)], cwd=REPO)
    if proc.returncode != 0 or not out.is_file():
        return {"error": f"section failed with exit status {proc.returncode}"}
    result = json.loads(out.read_text())
    result["section_wall_s"] = round(time.perf_counter() - started, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run of every section")
    parser.add_argument("--reuse-index", type=Path, help="a SciFact index to copy instead of embedding from scratch")
    parser.add_argument("--sections", help=f"comma-separated subset of: {', '.join(SECTIONS)}")
    parser.add_argument("--work", type=Path, help="working folder (default: a temporary one)")
    parser.add_argument("--write-docs", action="store_true", help="put the table into docs/benchmarks.md")
    parser.add_argument("--section", help=argparse.SUPPRESS)
    parser.add_argument("--params", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.section:  # child: one section, result to <work>/<section>.json
        result = run_section(args.section, args.work, json.loads(args.params))
        (args.work / f"{args.section}.json").write_text(json.dumps(result, indent=2))
        return 0

    params = {**(QUICK if args.quick else FULL), "reuse": str(args.reuse_index) if args.reuse_index else None}
    wanted = args.sections.split(",") if args.sections else [s for s in SECTIONS if not (args.quick and
                                                                                      s == "quality")]
    if "stack_scale" in wanted:
        at = wanted.index("stack_scale")
        wanted[at:at + 1] = [f"stack_{step}_{n}" for n in params["stack_sizes"] for step in ("build", "query",
                                                                                              "memory")]
    command = " ".join(["bench/speed.py", *(argv if argv is not None else sys.argv[1:])])
    results: dict = {"command": command, "date": time.strftime("%Y-%m-%d %H:%M %Z"), "quick": args.quick,
                     "params": params, "machine": machine(), "load_average_start": load_average(), "sections": {}}
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for name in wanted:
            print(f"== {name}", flush=True)
            results["sections"][name] = spawn(name, work, params)
            print(json.dumps(results["sections"][name], indent=2), flush=True)
    results["load_average_end"] = load_average()
    stamp = time.strftime("%Y%m%dT%H%M%S")
    folder = REPO / "bench" / "results"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"speed-{stamp}.json").write_text(json.dumps(results, indent=2))
    table = report.markdown(results)
    (folder / f"speed-{stamp}.md").write_text(table)
    print(table)
    if args.write_docs:
        report.write_docs(REPO / "docs" / "benchmarks.md", table)
    print(f"results: bench/results/speed-{stamp}.json", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
