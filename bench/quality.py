"""Search and answer quality on the two benchmarks, every mode, with the packaged model.

    .venv/bin/python bench/quality.py         # SciFact test + all of SQuAD v1.1 dev; 20-40 minutes on 2 cores

Runs ``qa eval --mode all`` on ``../shared/data/scifact`` (the 300 test claims; the defaults were tuned on the train
split, bench/tune.py) and ``../shared/data/squad-v1.1-dev`` (all 10,570 questions; also reported apart for the
even-numbered articles, whose questions bench/tune.py never saw). The corpora are indexed into index-eval/ (reused
when unchanged; the first SciFact build embeds 11,622 chunks, about 10 minutes on 2 cores). Prints one table per
dataset and writes everything, with the machine and the date, to bench/results/quality.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a file: the repository's bench and qa

from bench.common import EVEN, machine, squad_half_queries  # noqa: E402
from qa.evaluation.evaluate import EvalReport, default_index, evaluate, load_dataset, report_table, run_dict  # noqa: E402
from qa.evaluation.metrics import ranking_metrics  # noqa: E402
from qa.settings import DEFAULT, MODES  # noqa: E402

DATA = REPO.parent / "shared" / "data"
TARGETS = {"scifact": {"ndcg@10": 0.75}, "squad-v1.1-dev": {"success@1": 0.82, "success@5": 0.96,
                                                             "answer_accuracy": 0.70}}


def even_half(report: EvalReport, ranking: dict, qrels: dict) -> EvalReport:
    """Ranking metrics over the questions of even-numbered SQuAD articles (never used for tuning)."""
    even = squad_half_queries(qrels, EVEN)
    keep = {q: rels for q, rels in qrels.items() if q in even}
    run = {q: docs for q, docs in run_dict(ranking).items() if q in keep}
    return replace(report, dataset=f"{report.dataset} (even articles)", queries=len(keep),
                   metrics=ranking_metrics(run, keep))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "quality.json")
    parser.add_argument("--only", choices=["scifact", "squad-v1.1-dev"], help="run one dataset")
    args = parser.parse_args()
    from qa.embed.embedders import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder()
    results = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine(),
               "command": "python bench/quality.py", "settings": {"retrieval": DEFAULT.retrieval.__dict__,
                                                                   "lexical": DEFAULT.lexical.to_dict(),
                                                                   "chunk": DEFAULT.chunk.to_dict()},
               "targets": TARGETS, "reports": []}
    for name in ("scifact", "squad-v1.1-dev"):
        if args.only and name != args.only:
            continue
        dataset = load_dataset(DATA / name)
        started = time.perf_counter()
        runs = evaluate(dataset, REPO / default_index(dataset), list(MODES), 100, embedder=embedder)
        reports = [report for report, _ in runs]
        print(report_table(reports))
        results["reports"] += [r.to_dict() for r in reports]
        if name == "squad-v1.1-dev":
            halves = [even_half(report, ranking, dataset.qrels) for report, ranking in runs]
            print(report_table(halves))
            results["reports"] += [r.to_dict() for r in halves]
        print(f"({time.perf_counter() - started:.0f} s)\n", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
