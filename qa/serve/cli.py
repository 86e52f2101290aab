"""The `qa` command: a thin face over the library. Errors become one line and a non-zero exit, never a traceback.

Paths default to ``corpus/`` and ``index/`` in the current folder; ``QA_CORPUS`` and ``QA_INDEX`` override them,
``QA_MODEL`` picks the embedder (``hashing-64`` makes tests fast).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from qa.errors import QAError
from qa.settings import DEFAULT, MODES

EXIT_ERROR = 1


def _corpus_default() -> Path:
    return Path(os.environ.get("QA_CORPUS", "corpus"))


def _index_default() -> Path:
    return Path(os.environ.get("QA_INDEX", "index"))


def _embedder(args: argparse.Namespace):
    from qa.embed.embedders import embedder_for

    return embedder_for(os.environ.get("QA_MODEL"), device=getattr(args, "device", None),
                        variant=getattr(args, "variant", None), notify=None if getattr(args, "quiet", False) else _step)


def _step(line: str) -> None:
    """A one-time step (preparing the model) on the terminal, beside the progress bars; stderr, as stdout may
    carry ``--json``."""
    from tqdm import tqdm

    tqdm.write(line, file=sys.stderr)


def cmd_index(args: argparse.Namespace) -> int:
    from qa.index.build import build_index
    from qa.serve.render_text import report_text

    report = build_index(args.corpus, args.index, _embedder(args), full=args.full, progress=not args.quiet,
                         index_kind=args.index_kind, shards=args.shards)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(report_text(report))
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from qa.assistant import Assistant
    from qa.serve.render_text import result_text

    assistant = Assistant.load(args.index)
    filters = {name: getattr(args, name) for name in ("source", "date_from", "date_to", "path")
               if getattr(args, name) is not None}
    result = assistant.ask(args.question, k=args.k, mode=args.mode, filters=filters)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(result_text(result))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported: no telemetry
    from qa.serve.app import serve

    return serve(args.index, args.corpus, host=args.host, port=args.port, auth=args.auth or os.environ.get("QA_AUTH"),
                 share=args.share, max_upload_mb=args.max_upload_mb, model=os.environ.get("QA_MODEL"),
                 cluster=args.cluster)


def cmd_eval(args: argparse.Namespace) -> int:
    from qa.evaluation.evaluate import default_index, evaluate, load_dataset, report_table, run_file_for, write_run_file

    dataset = load_dataset(args.dataset, split=args.split)
    modes = list(MODES) if args.mode == "all" else [args.mode]
    if dataset.kind == "beir":
        index = args.index or default_index(dataset)
        runs = evaluate(dataset, index, modes, args.k, embedder=_embedder(args), progress=not args.quiet)
    else:
        runs = evaluate(dataset, args.index or _index_default(), modes, args.k, progress=not args.quiet)
    if args.run_file:
        for report, ranking in runs:
            write_run_file(run_file_for(args.run_file, report.mode, modes), ranking, f"qa-{report.mode}")
    reports = [report for report, _ in runs]
    if args.json:
        data = [r.to_dict() for r in reports]
        print(json.dumps(data if args.mode == "all" else data[0], indent=2))
    else:
        sys.stdout.write(report_table(reports))
    return 0


def _add_index_arguments(index: argparse.ArgumentParser) -> None:
    index.add_argument("--corpus", type=Path, default=_corpus_default(),
                       help="folder (or single file) of documents (default: corpus/ or $QA_CORPUS)")
    index.add_argument("--index", type=Path, default=_index_default(),
                       help="index folder (default: index/ or $QA_INDEX)")
    index.add_argument("--full", action="store_true", help="rebuild from scratch instead of incrementally")
    index.add_argument("--device", default="auto",
                       help="embedding device: auto (a CUDA GPU if there is one, else the CPU), cpu or cuda")
    index.add_argument("--variant", default="auto",
                       help="how the model runs: auto, torch-fp32, torch-fp16 (GPU), openvino-bf16, openvino-fp32 "
                            "or openvino-int8 (default auto: the fastest on this machine, measured once; the float "
                            "variants give the same vectors, int8 close ones under its own fingerprint)")
    index.add_argument("--index-kind", choices=("auto", "flat", "hnsw", "ivf"),
                       help="vector index: exact (flat) or approximate (hnsw, ivf); auto is exact below 200,000 "
                            "chunks (default: what the last build used, else auto)")
    index.add_argument("--shards", type=int, metavar="N",
                       help="split the index into N shards, each a complete index over its part of the documents, "
                            "for answering across a cluster (qa serve --cluster); 0: one index (default: what the "
                            "last build wrote, else one index)")
    index.add_argument("--json", action="store_true", help="print the build report as JSON")
    index.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    index.set_defaults(func=cmd_index)


def _add_ask_arguments(ask: argparse.ArgumentParser) -> None:
    ask.add_argument("question", metavar="QUESTION")
    ask.add_argument("--index", type=Path, default=_index_default(),
                     help="index folder (default: index/ or $QA_INDEX)")
    ask.add_argument("-k", default=5, help="number of passages (default: 5)")
    ask.add_argument("--mode", choices=MODES, help="search mode (default: hybrid, dense vectors + BM25)")
    ask.add_argument("--source", help="only documents whose source label or publisher contains this text")
    ask.add_argument("--from", dest="date_from", metavar="DATE", help="only documents dated on or after DATE "
                     "(YYYY, YYYY-MM or YYYY-MM-DD; undated documents are left out)")
    ask.add_argument("--to", dest="date_to", metavar="DATE", help="only documents dated on or before DATE")
    ask.add_argument("--path", metavar="GLOB", help="only documents whose path matches GLOB (or is under it)")
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    ask.set_defaults(func=cmd_ask)


def _add_eval_arguments(ev: argparse.ArgumentParser) -> None:
    ev.add_argument("dataset", type=Path, metavar="DATASET")
    ev.add_argument("--index", type=Path, help="index folder (default: index-eval/<dataset> for a BEIR folder, "
                                               "index/ or $QA_INDEX for a questions file)")
    ev.add_argument("--mode", choices=[*MODES, "all"], default=DEFAULT.retrieval.mode,
                    help=f"search mode, or all side by side (default: {DEFAULT.retrieval.mode})")
    ev.add_argument("-k", type=int, default=100, help="documents retrieved per question (default: 100, the depth "
                                                       "of recall@100 and of the run file)")
    ev.add_argument("--split", default="test", help="BEIR split: test reads queries.jsonl and qrels.tsv, NAME "
                                                    "reads NAME-queries.jsonl and NAME-qrels.tsv (default: test)")
    ev.add_argument("--json", action="store_true", help="print JSON (a list with --mode all)")
    ev.add_argument("--run-file", type=Path, metavar="PATH", help="write the ranking as a TREC run file "
                                                                 "(with --mode all: PATH.<mode>.<suffix>)")
    ev.add_argument("--device", help="embedding device, e.g. cpu or cuda (default: GPU if present)")
    ev.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    ev.set_defaults(func=cmd_eval)


def _add_serve_arguments(serve: argparse.ArgumentParser) -> None:
    serve.add_argument("--index", type=Path, default=_index_default(),
                       help="index folder (default: index/ or $QA_INDEX)")
    serve.add_argument("--corpus", type=Path, default=_corpus_default(),
                       help="corpus folder, where uploads are saved (default: corpus/ or $QA_CORPUS)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default: 127.0.0.1, this machine only)")
    serve.add_argument("--port", type=int, default=7860,
                       help="port (default: 7860; 0: any free port, named in the address printed)")
    serve.add_argument("--auth", metavar="USER:PASSWORD", help="require this login (default: $QA_AUTH, else none)")
    serve.add_argument("--share", action="store_true", help="also open a public gradio.live link (off by default)")
    serve.add_argument("--max-upload-mb", type=float, default=50, help="largest upload accepted (default: 50)")
    serve.add_argument("--cluster", metavar="ADDRESS",
                       help="answer from a sharded index (qa index --shards N) with one actor per shard on the Ray "
                            "cluster at ADDRESS (auto, or HOST:PORT of its head); default: in this process")
    serve.set_defaults(func=cmd_serve)


EVAL_DESCRIPTION = ("Ask every question of DATASET and print nDCG@10, MRR@10, recall, success, answer checks and "
                    "latency. DATASET is a BEIR folder (corpus.jsonl, queries.jsonl, qrels.tsv, optional "
                    "answers.jsonl; its corpus is indexed into --index, reused when unchanged) or a questions "
                    ".jsonl file ({\"question\", \"source\", \"answer\"} a line) asked against an existing index.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qa", description="Ask questions over a folder of documents, offline.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_index_arguments(sub.add_parser(
        "index", help="build or update the index from the corpus",
        description="Build the index from the corpus, re-embedding only what changed."))
    _add_ask_arguments(sub.add_parser(
        "ask", help="answer a question from the index",
        description="Show the passages that answer QUESTION, each with its source."))
    _add_eval_arguments(sub.add_parser(
        "eval", help="measure retrieval and answers on a benchmark or a questions file", description=EVAL_DESCRIPTION))
    _add_serve_arguments(sub.add_parser(
        "serve", help="open the chat in the browser",
        description="Serve the chat page (building the index first if there is none)."))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except QAError as exc:
        print(f"qa: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("qa: interrupted; the index was left as it was", file=sys.stderr)
        return 130
    except OSError as exc:  # the last line of defence: a file problem the library did not foresee
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"qa: error: {exc.strerror or exc}{where}: check the path, its permissions and free space",
              file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # a bug in qa: still one line, never a traceback
        print(f"qa: error: unexpected {type(exc).__name__}: {exc} (a bug in qa: please report it)", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
