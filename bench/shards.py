"""Fan-out benchmark: `ask` over 1, 2, 4 and 8 shards of one synthetic 1M-chunk corpus against the unsharded index,
in this process and on a local Ray cluster; then a 10M-chunk simulation (IVF-PQ) with recall@10 against exact.

    .venv/bin/python bench/shards.py --source WORK/scifact-index --work /tmp/shards          # in-process, 1M
    .venv/bin/python bench/shards.py --source WORK/scifact-index --work /tmp/shards --ray    # and on Ray
    .venv/bin/python bench/shards.py --source WORK/scifact-index --work /tmp/shards --ten-million

``--source`` is a SciFact index (``bench/speed.py`` builds one in its work folder): its chunk vectors seed the
synthetic ones (``bench.synthetic``) and its documents are repeated up to the size asked for, so BM25 scores real
text; the questions are SciFact's claims, embedded by the index's model, as in ``bench/scale.py``. The Ray cluster
is a one-machine cluster started by this script inside a network namespace of its own (``unshare -n``, as root),
so nothing leaves the machine; it is ended by its process ids. Figures are printed as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import scifact, ten_million  # noqa: E402
from bench.common import load_average, machine, pct  # noqa: E402
from bench.measure import latencies  # noqa: E402


def build_indexes(source: Path, work: Path, chunks: int, counts: list[int]) -> dict:
    """The unsharded index and one sharded index per count, all over the same synthetic rows."""
    from bench import scale
    from qa.index import calibration, lexical, shards, store, vector_index
    from qa.settings import DEFAULT

    data, documents, table, vectors, texts = scale.synthetic_arrays(source, chunks)
    spec = vector_index.choose_spec(len(vectors))
    out: dict = {"chunks": len(table), "documents": len(documents), "index": spec.to_dict()}
    started = time.perf_counter()
    files = lexical.repeated_index_files(texts, len(table), DEFAULT.lexical) | calibration.index_files(vectors)
    store.write_from_arrays(work / "unsharded", data, documents=documents, chunks=table, vectors=vectors,
                            faiss_index=vector_index.build(vectors, spec), spec=spec, requested="auto",
                            extra_files=files)
    out["unsharded_write_s"] = round(time.perf_counter() - started, 1)
    for count in counts:
        started = time.perf_counter()
        shards.write_from_arrays(work / f"shards-{count}", data, documents=documents, chunks=table, vectors=vectors,
                                 spec=spec, requested="auto", shards=count, repeated=texts, settings=DEFAULT)
        out[f"shards_{count}_write_s"] = round(time.perf_counter() - started, 1)
    return out


def ask_figures(assistant, questions: list[str]) -> dict:
    """`ask` (default mode) p50/p95, and its search part (the fan-out and merge, for a sharded index)."""
    search_ms: list[float] = []

    def ask(question: str) -> None:
        search_ms.append(assistant.ask(question).timings_ms["search"])

    total = latencies(ask, questions)
    return {"ask": pct(total), "search": pct(np.array(search_ms[-len(questions):])), "load": load_average()}


def fanout(work: Path, counts: list[int], questions: list[str], cluster: str | None) -> dict:
    """Every index asked the same questions; the passages compared with the unsharded index's."""
    from qa.assistant import Assistant

    out: dict = {}
    reference = Assistant.load(work / "unsharded")
    out["unsharded"] = ask_figures(reference, questions)
    expected = [[p.chunk_id for p in reference.ask(q).passages] for q in questions]
    embedder = reference.embedder
    del reference
    for count in counts:
        assistant = Assistant.load(work / f"shards-{count}", embedder=embedder, cluster=cluster)
        figures = ask_figures(assistant, questions)
        got = [[p.chunk_id for p in assistant.ask(q).passages] for q in questions]
        figures["same_passages_as_unsharded"] = round(float(np.mean([g == e for g, e in zip(got, expected,
                                                                                             strict=True)])), 3)
        out[f"shards_{count}"] = figures
        del assistant
    return out


def alternated(work: Path, count: int, questions: list[str], rounds: int) -> dict:
    """The unsharded index and ``count`` shards, both loaded, asked the same questions in turn for ``rounds``
    rounds (which goes first alternating), so that both see the same load; the p50 difference per round."""
    from qa.assistant import Assistant

    one = Assistant.load(work / "unsharded")
    sharded = Assistant.load(work / f"shards-{count}", embedder=one.embedder)
    out: dict = {"rounds": []}
    for r in range(rounds):
        order = [("unsharded", one), (f"shards_{count}", sharded)]
        figures = {name: ask_figures(assistant, questions) for name, assistant in (order if r % 2 == 0 else
                                                                                     order[::-1])}
        figures["p50_difference_ms"] = round(figures[f"shards_{count}"]["ask"]["p50_ms"]
                                             - figures["unsharded"]["ask"]["p50_ms"], 1)
        out["rounds"].append(figures)
        print(json.dumps(figures), flush=True)
    out["median_p50_difference_ms"] = float(np.median([f["p50_difference_ms"] for f in out["rounds"]]))
    return out


def ray_fanout(work: Path, counts: list[int], questions: list[str]) -> dict:
    """``fanout`` on a one-machine Ray cluster started here (inside the namespace this script runs in)."""
    import ray

    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, _node_ip_address="127.0.0.1",
             object_store_memory=256 * 2**20,
             logging_level="WARNING", log_to_driver=False)
    try:
        return fanout(work, counts, questions, cluster="auto")
    finally:
        ray.shutdown()


def in_namespace(argv: list[str]) -> dict:
    """This script again with ``argv``, in a network namespace of its own with only its loopback up."""
    code = f"ip link set lo up && exec {sys.executable} {Path(__file__)} " + " ".join(argv)
    ran = subprocess.run(["unshare", "-n", "sh", "-c", code], capture_output=True, text=True, check=False)
    if ran.returncode:
        raise SystemExit(f"the Ray run failed: {ran.stderr[-3000:]}")
    return json.loads(ran.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", type=Path, required=True, help="a SciFact index (real model)")
    parser.add_argument("--work", type=Path, required=True, help="where the synthetic indexes are written")
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--shards", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--reuse", action="store_true", help="the indexes in --work are there already")
    parser.add_argument("--ray", action="store_true", help="also ask through Ray actors")
    parser.add_argument("--ray-only", action="store_true", help=argparse.SUPPRESS)  # the namespaced child
    parser.add_argument("--alternate", type=int, metavar="ROUNDS",
                        help="only the unsharded index against the first --shards count, in turn, ROUNDS rounds "
                             "(the indexes in --work are there already)")
    parser.add_argument("--ten-million", action="store_true", help="only the 10M-chunk IVF-PQ simulation")
    parser.add_argument("--factory", default=ten_million.FACTORY,
                        help="the FAISS index of --ten-million (e.g. IVF4096_HNSW32,PQ48,Refine(SQ8))")
    parser.add_argument("--vectors", type=int, default=10_000_000, help="how many vectors --ten-million makes")
    args = parser.parse_args(argv)
    questions = [text for _, text in scifact.queries()][:args.queries]
    if args.ten_million:
        simulated = ten_million.simulate(args.source, args.vectors, factory=args.factory)
        print(json.dumps({"machine": machine(), **simulated}))
        return 0
    if args.alternate:
        figures = alternated(args.work, args.shards[0], questions, args.alternate)
        print(json.dumps({"machine": machine(), "alternated": figures}))
        return 0
    if args.ray_only:
        print(json.dumps(ray_fanout(args.work, args.shards, questions)))
        return 0
    out: dict = {"machine": machine(), "load_before": load_average()}
    if not args.reuse:
        out["build"] = build_indexes(args.source, args.work, args.chunks, args.shards)
        print(json.dumps(out["build"]), flush=True)
    out["in_process"] = fanout(args.work, args.shards, questions, cluster=None)
    print(json.dumps(out["in_process"]), flush=True)
    if args.ray:
        shards = [str(n) for n in args.shards]
        out["ray"] = in_namespace(["--source", str(args.source), "--work", str(args.work), "--queries",
                                   str(args.queries), "--ray-only", "--shards", *shards])
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
