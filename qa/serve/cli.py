"""The `qa` command: a thin face over the library. Errors become one line and a non-zero exit, never a traceback.

Paths default to ``corpus/`` and ``index/`` in the current folder; ``QA_CORPUS`` and ``QA_INDEX`` override them,
``QA_MODEL`` picks the embedder (``hashing-64`` makes tests fast).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
from pathlib import Path

from qa.errors import QAError, SettingsError
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

    settings = dataclasses.replace(DEFAULT, ocr_languages=args.ocr_languages)
    report = build_index(args.corpus, args.index, _embedder(args), settings=settings, full=args.full,
                         progress=not args.quiet, index_kind=args.index_kind, engine=_engine(args), shards=args.shards)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(report_text(report))
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    from qa.errors import CorpusError
    from qa.ingest.fetch import add_urls

    saved, problems = add_urls(args.urls, args.corpus)
    for page in saved:
        print(f"Saved {page.url} as {args.corpus / page.path} ({page.title})")
    for problem in problems:
        print(f"Could not add {problem.path}: {problem.reason}", file=sys.stderr)
    if not saved:
        raise CorpusError(f"no page was added ({problems[0].path}: {problems[0].reason})" if problems else
                          "no page was added: the sitemap lists no pages")
    return 0 if args.no_index else cmd_index(args)


def _engine(args: argparse.Namespace):
    """The local build unless ``--engine ray``: only then is Ray imported."""
    from qa.index.engine import LOCAL

    if args.engine == "local":
        if args.address is not None:
            raise SettingsError("--address needs --engine ray: add it, or drop --address to build here")
        return LOCAL
    from qa.cluster.ray_engine import RayEngine

    return RayEngine(args.address or "auto")


def cmd_ask(args: argparse.Namespace) -> int:
    from qa.assistant import Assistant
    from qa.serve.render_text import result_text

    assistant = Assistant.load(args.index)
    filters = {name: getattr(args, name) for name in ("source", "date_from", "date_to", "path")
               if getattr(args, name) is not None}
    # the earlier questions are asked in turn, so each one's answer is there for the next to lean on
    result = assistant.converse([*(args.after or ()), args.question], k=args.k, mode=args.mode, filters=filters)[-1]
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(result_text(result))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from qa.index.ledger import read_ledger
    from qa.serve.render_text import ledger_text

    ledger = read_ledger(args.index)
    entries = ledger.problems if args.problems else ledger.entries
    if args.json:
        print(json.dumps({**ledger.to_dict(), "files": [e.to_dict() for e in entries]}, indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(ledger_text(ledger, entries))
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from qa.assistant import Assistant
    from qa.serve.render_text import explanation_text

    assistant = Assistant.load(args.index)
    filters = {name: getattr(args, name) for name in ("source", "date_from", "date_to", "path")
               if getattr(args, name) is not None}
    explanation = assistant.explain(args.question, args.doc, k=args.k, filters=filters)
    if args.json:
        print(json.dumps(explanation.to_dict(), indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(explanation_text(explanation))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported: no telemetry
    from qa.serve.app import serve

    return serve(args.index, args.corpus, host=args.host, port=args.port, auth=args.auth or os.environ.get("QA_AUTH"),
                 share=args.share, max_upload_mb=args.max_upload_mb, model=os.environ.get("QA_MODEL"),
                 watch_seconds=args.quiet_seconds if args.watch else None, mcp=args.mcp,
                 cluster=args.cluster)


def cmd_watch(args: argparse.Namespace) -> int:
    """Bring the index up to date, then rebuild on every change of the corpus until interrupted."""
    from qa.index.build import build_index
    from qa.serve.render_text import report_text
    from qa.serve.watch import CorpusWatcher

    embedder = _embedder(args)
    if args.quiet_seconds <= 0:
        raise SettingsError(f"--quiet-seconds {args.quiet_seconds} must be above 0")

    def rebuild():
        return build_index(args.corpus, args.index, embedder, progress=False)

    def show(state) -> None:
        print(f"qa: changes: {', '.join(state.last_changes)}", flush=True)
        print(f"qa: error: {state.error}" if state.error else report_text(state.report), end="", flush=True)

    args.corpus.mkdir(parents=True, exist_ok=True)
    sys.stdout.write(report_text(rebuild()))
    print(f"qa: watching {args.corpus} (Ctrl+C stops)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        CorpusWatcher(args.corpus, rebuild, quiet_seconds=args.quiet_seconds, on_report=show).run()
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from qa.evaluation.evaluate import default_index, evaluate, load_dataset, report_table, run_file_for, write_run_file

    dataset = load_dataset(args.dataset, split=args.split)
    modes = list(MODES) if args.mode == "all" else [args.mode]
    if dataset.kind == "beir":
        index = args.index or default_index(dataset)
        runs = evaluate(dataset, index, modes, args.k, embedder=_embedder(args), progress=not args.quiet)
    else:
        runs = evaluate(dataset, args.index or _index_default(), modes, args.k, progress=not args.quiet,
                        use_history=not args.without_history)
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
    index.add_argument("--ocr-languages", default=DEFAULT.ocr_languages, metavar="LANGS",
                       help="Tesseract languages for scanned PDF pages, e.g. eng+deu (default: eng); each needs its "
                            "Debian package tesseract-ocr-<lang>; scans already indexed are re-read with --full")
    index.add_argument("--engine", choices=("local", "ray"), default="local",
                       help="where reading, chunking and embedding run: here (local, the default) or on a Ray "
                            "cluster (ray; needs `pip install 'qa[cluster]'` and a cluster, see the README)")
    index.add_argument("--address",
                       help="with --engine ray: the cluster's head as HOST:PORT, or auto (default: the cluster this "
                            "machine is part of)")
    index.add_argument("--shards", type=int, metavar="N",
                       help="split the index into N shards, each a complete index over its part of the documents, "
                            "for answering across a cluster (qa serve --cluster); 0: one index (default: what the "
                            "last build wrote, else one index)")
    index.add_argument("--json", action="store_true", help="print the build report as JSON")
    index.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    index.set_defaults(func=cmd_index)


def _add_ask_arguments(ask: argparse.ArgumentParser) -> None:
    _add_question_arguments(ask)
    ask.add_argument("--mode", choices=MODES, help="search mode (default: hybrid, dense vectors + BM25)")
    ask.add_argument("--after", action="append", metavar="QUESTION",
                     help="an earlier question of the conversation (repeatable, oldest first): QUESTION may be a "
                          "follow-up of it, searched as resolved against it and its answer")
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    ask.set_defaults(func=cmd_ask)


def _add_explain_arguments(explain: argparse.ArgumentParser) -> None:
    _add_question_arguments(explain)
    explain.add_argument("--doc", required=True, metavar="DOC_ID",
                         help="the document: its id (a file's path; path#_id in a .jsonl collection)")
    explain.add_argument("--json", action="store_true", help="print one JSON object")
    explain.set_defaults(func=cmd_explain)


def _add_question_arguments(ask: argparse.ArgumentParser) -> None:
    """The question, the index, k and the filters: what `qa ask` and `qa explain` share."""
    ask.add_argument("question", metavar="QUESTION")
    ask.add_argument("--index", type=Path, default=_index_default(),
                     help="index folder (default: index/ or $QA_INDEX)")
    ask.add_argument("-k", default=5, help="number of passages (default: 5)")
    ask.add_argument("--source", help="only documents whose source label or publisher contains this text")
    ask.add_argument("--from", dest="date_from", metavar="DATE", help="only documents dated on or after DATE "
                     "(YYYY, YYYY-MM or YYYY-MM-DD; undated documents are left out)")
    ask.add_argument("--to", dest="date_to", metavar="DATE", help="only documents dated on or before DATE")
    ask.add_argument("--path", metavar="GLOB", help="only documents whose path matches GLOB (or is under it)")


def _add_status_arguments(status: argparse.ArgumentParser) -> None:
    status.add_argument("--index", type=Path, default=_index_default(),
                        help="index folder (default: index/ or $QA_INDEX)")
    status.add_argument("--problems", action="store_true",
                        help="only the files not indexed whole (skipped, unreadable, too big, needs OCR, ...)")
    status.add_argument("--json", action="store_true",
                        help='print {"generation", "built_at", "corpus", "files": [{"file", "status", "reason", '
                             '"reader", "documents", "chunks", "seconds", "generation"}]}')
    status.set_defaults(func=cmd_status)


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
    ev.add_argument("--without-history", action="store_true",
                    help="ask each question of a questions file alone, ignoring its \"history\" (the baseline)")
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
    serve.add_argument("--watch", action="store_true",
                       help="rebuild the index whenever files are added, changed, renamed or removed in the corpus")
    _add_quiet_argument(serve)
    serve.add_argument("--mcp", action="store_true", help="also serve the MCP server (tools ask, search and "
                                                          "open_document) at /mcp, for agents and desktop assistants")
    serve.add_argument("--cluster", metavar="ADDRESS",
                       help="answer from a sharded index (qa index --shards N) with one actor per shard on the Ray "
                            "cluster at ADDRESS (auto, or HOST:PORT of its head); default: in this process")
    serve.set_defaults(func=cmd_serve)


def _add_quiet_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet-seconds", type=float, default=2.0, metavar="S",
                        help="with --watch: rebuild once the corpus has not changed for S seconds (default: 2)")


def _add_watch_arguments(watch: argparse.ArgumentParser) -> None:
    watch.add_argument("--corpus", type=Path, default=_corpus_default(),
                       help="folder to watch (default: corpus/ or $QA_CORPUS)")
    watch.add_argument("--index", type=Path, default=_index_default(),
                       help="index folder (default: index/ or $QA_INDEX)")
    _add_quiet_argument(watch)
    watch.set_defaults(func=cmd_watch, quiet=True)


EVAL_DESCRIPTION = ("Ask every question of DATASET and print nDCG@10, MRR@10, recall, success, answer checks and "
                    "latency. DATASET is a BEIR folder (corpus.jsonl, queries.jsonl, qrels.tsv, optional "
                    "answers.jsonl; its corpus is indexed into --index, reused when unchanged) or a questions "
                    ".jsonl file ({\"question\", \"source\", \"answer\", \"doc\", \"history\"} a line) asked "
                    "against an existing index.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qa", description="Ask questions over a folder of documents, offline.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_index_arguments(sub.add_parser(
        "index", help="build or update the index from the corpus",
        description="Build the index from the corpus, re-embedding only what changed."))
    add = sub.add_parser(
        "add", help="fetch web pages into the corpus, then index",
        description="Fetch each URL (a page, or every page of a sitemap), save its main text into the corpus as a "
                    "Markdown file with its URL, title, site and date in front matter, then update the index. A "
                    "rebuild reads the saved files and never needs the network.")
    add.add_argument("urls", nargs="+", metavar="URL", help="http(s) address of a page or a sitemap.xml")
    add.add_argument("--no-index", action="store_true", help="only save the pages; do not update the index")
    _add_index_arguments(add)
    add.set_defaults(func=cmd_add)
    _add_ask_arguments(sub.add_parser(
        "ask", help="answer a question from the index",
        description="Show the passages that answer QUESTION, each with its source."))
    _add_explain_arguments(sub.add_parser(
        "explain", help="say why a document was or was not found for a question",
        description="Where DOC_ID's best passage ranks for QUESTION in each mode (dense, lexical, hybrid), its "
                    "dense and lexical scores, and whether a filter or the duplicate collapsing removed it."))
    _add_status_arguments(sub.add_parser(
        "status", help="list every corpus file and what the last build did with it",
        description="Print the index's ledger: each corpus file's status (indexed, unchanged, skipped, unreadable, "
                    "too big, needs OCR), the reason, its chunks, the reader and the time it took."))
    _add_watch_arguments(sub.add_parser(
        "watch", help="keep the index up to date with the corpus folder",
        description="Index the corpus, then rebuild incrementally whenever its files are added, changed, renamed or "
                    "removed (editors' temporary files are ignored), once they have stopped changing. A `qa serve` "
                    "of the same index answers from the new generation as soon as it is swapped in."))
    _add_eval_arguments(sub.add_parser(
        "eval", help="measure retrieval and answers on a benchmark or a questions file", description=EVAL_DESCRIPTION))
    _add_serve_arguments(sub.add_parser(
        "serve", help="open the chat in the browser",
        description="Serve the chat page and its JSON API at /api/ (building the index first if there is none)."))
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
