"""The results of ``bench/speed.py`` as a markdown table: each figure next to its target, and whether it is met."""

from __future__ import annotations

from pathlib import Path

BEGIN, END = "<!-- speed:begin -->", "<!-- speed:end -->"


def _verdict(ok: bool | None) -> str:
    return "" if ok is None else ("met" if ok else "**not met**")


def _ms(figures: dict | None, key: str = "p50_ms") -> str:
    return "n/a" if not figures else f"{figures[key]:.1f} ms"


Row = tuple[str, str, str, str]  # figure, measured, target, verdict


def _row(figure: str, value: str, target: str = "", ok: bool | None = None) -> Row:
    return (figure, value, target, _verdict(ok))


def _build_rows(s: dict) -> list[Row]:
    """The build against the raw ``SentenceTransformer.encode`` on the same texts; memory and disk of the build."""
    build, raw = s.get("build", {}), s.get("raw_encode", {})
    if "chunks_per_s" not in build or "chunks_per_s" not in raw:
        return []
    ratio = build["chunks_per_s"] / raw["chunks_per_s"]
    return [
        _row(f"index build, {build['docs']} SciFact docs ({build['chunks']} chunks, {build['variant']})",
             f"{build['chunks_per_s']} chunks/s, {build['tokens_per_s']:,} tokens/s"),
        _row("raw `SentenceTransformer.encode` fp32, same texts, same run (timed on a second, warm pass)",
             f"{raw['chunks_per_s']} chunks/s, {raw['tokens_per_s']:,} tokens/s"),
        _row("build throughput / raw fp32 encode", f"{ratio:.2f}x", ">= 1.5x", ratio >= 1.5),
        _row("peak memory (RSS) of the build; of the raw encode",
             f"{build['peak_rss_mb']} MB; {raw['peak_rss_mb']} MB"),
        _row("index size on disk (generation; embedding cache)",
             f"{build['disk_mb']['generation']} MB; {build['disk_mb']['embedding_cache']} MB"),
    ]


def _quality_rows(s: dict) -> list[Row]:
    """nDCG@10 of the default variant against fp32, the vectors' cosines, the full build, texts/s per variant."""
    quality = s.get("quality", {})
    ndcg = quality.get("ndcg_at_10", {})
    if not ndcg:
        return []
    ref = ndcg["fp32 index, fp32 queries"]
    fast_key = next(k for k in ndcg if k.endswith(f"{quality['variant']} queries") and k.startswith(
        quality["variant"]))
    diff = ndcg[fast_key] - ref
    storage = ndcg.get("fp32 vectors in fp16 storage, fp32 queries")
    speeds = ", ".join(f"{k}: {v}" for k, v in quality["texts_per_s"].items())
    return [
        _row("SciFact nDCG@10 (dense), fp32 embedding searched in fp32 / " + quality["variant"] + " embedding as qa "
             "searches it" + (" (fp16 storage)" if storage is not None else ""),
             f"{ref:.4f} / {ndcg[fast_key]:.4f} (diff {diff:+.4f})"
             + (f"; fp32 embedding in fp16 storage {storage:.4f}" if storage is not None else ""),
             "within 0.005", abs(diff) <= 0.005),
        _row("cosine of each chunk vector with its fp32 vector (min / mean)",
             f"{quality['cosine_vs_fp32']['min']:.5f} / {quality['cosine_vs_fp32']['mean']:.5f}"),
        _row("full SciFact build from scratch", f"{quality['full_build']['chunks']} chunks in "
             f"{quality['full_build']['seconds']:.0f} s ({quality['full_build']['chunks_per_s']} chunks/s)"),
        _row(f"texts/s per variant ({quality['sample_texts']} SciFact chunks, each timed on a second pass)", speeds),
    ]


def _incremental_rows(s: dict) -> list[Row]:
    inc, rows = s.get("incremental", {}), []
    for name, label in (("unchanged", "nothing changed"), ("changed_1", "1 changed document"),
                        ("added_100", "100 added documents")):
        if name in inc:
            step = inc[name]
            target, ok = ("< 5 s", step["command_s"] < 5) if name == "changed_1" else ("", None)
            extra = f" (build call {step['call_s']:.2f} s" + (f", {step['embedded']} chunks embedded)"
                                                               if "embedded" in step else ")")
            rows.append(_row(f"re-index SciFact, {label}: `qa index` command", f"{step['command_s']:.2f} s{extra}",
                             target, ok))
    return rows


def _stack_build_rows(s: dict, stack_sizes: list[int]) -> list[Row]:
    rows = []
    for n in stack_sizes:
        built = s.get(f"stack_build_{n}", {})
        if "chunks" in built:
            rows.append(_row(f"synthetic index of {built['chunks']:,} chunks ({built['documents']:,} documents, "
                             f"{built['index']['kind']}) written", f"ANN {built['ann_build_s']} s, BM25 "
                             f"{built['bm25_build_s']} s, generation written and checksummed {built['write_s']} s"))
    return rows


def _query_rows(label: str, query: dict) -> list[Row]:
    """p50 / p95 per mode of one query section; the targets apply to SciFact only."""
    rows = []
    for mode in ("dense", "lexical", "hybrid", "ask"):
        if mode not in query:
            continue
        total, search = query[mode]["total"], query[mode]["search"]
        name = f"`ask` (default mode {query['default_mode']})" if mode == "ask" else f"{mode} search"
        target, ok = "", None
        if label == "SciFact" and mode == "ask":
            target, ok = "p50 <= 30 ms, p95 <= 80 ms", total["p50_ms"] <= 30 and total["p95_ms"] <= 80
        elif label == "SciFact":
            target, ok = "search p50 <= 10 ms", search["p50_ms"] <= 10
        rows.append(_row(f"{label} ({query['chunks']:,} chunks, {query['index_kind']}): {name} p50 / p95",
                         f"{_ms(total)} / {_ms(total, 'p95_ms')} (search alone {_ms(search)})", target, ok))
    rows.append(_row(f"{label}: embedding one question ({query['variant']}) p50", _ms(query["embed_question"])))
    return rows


def _ann_row(size: int, kind: str, f: dict) -> Row:
    """One ANN kind at one size: latency and recall against exact search, build time and memory, the sweep."""
    one = f["threads_1"]
    params = ", ".join(f"{k}={v}" for k, v in f["spec"].items() if k not in ("kind", "metric"))
    target, ok = ("p50 <= 30 ms, recall@10 >= 0.95", one["p50_ms"] <= 30 and one["recall_at_10"] >= 0.95) \
        if size >= 1_000_000 and kind != "flat" else ("", None)
    sweep = "".join(f"; {k}: {v['p50_ms']:.1f} ms, {v['recall_at_10']:.3f}" for k, v in f.get("sweep", {}).items())
    return _row(f"{size:,}: {kind} ({params}) p50 / p95, recall@10 vs exact, 1 thread",
                f"{_ms(one)} / {_ms(one, 'p95_ms')}, {one['recall_at_10']:.3f} (2 threads: "
                f"{_ms(f['threads_2'])}); built in {f['build_s']} s, +{f['rss_growth_mb']} MB{sweep}", target, ok)


def _dense_rows(s: dict, dense_sizes: list[int]) -> list[Row]:
    dense, rows = s.get("dense_scale", {}), []
    for size in dense_sizes:
        figures = dense.get(str(size))
        if not figures:
            continue
        rows.append(_row(f"{size:,} synthetic vectors, exact fp32 search (the reference) p50 / p95, 1 thread",
                         f"{_ms(figures['exact']['threads_1'])} / {_ms(figures['exact']['threads_1'], 'p95_ms')} "
                         f"(2 threads: {_ms(figures['exact']['threads_2'])})"))
        rows += [_ann_row(size, kind, figures[kind]) for kind in ("flat", "hnsw", "ivf")
                 if kind in figures and "spec" in figures[kind]]
    return rows


def _cold_rows(s: dict) -> list[Row]:
    cold = s.get("cold", {})
    if not cold:
        return []
    rows, serve = [], cold.get("serve", {})
    if "first_answer_s" in serve:
        rows.append(_row("cold start: `qa serve` to the first answer from its /ask API",
                         f"{serve['first_answer_s']:.2f} s (ready after {serve['ready_s']:.2f} s)"))
    elif serve:
        rows.append(_row("cold start: `qa serve`", serve.get("error", "n/a")))
    rows.append(_row("cold start: `qa ask` command, new process to printed answer",
                     f"{cold['qa_ask_command_s']:.2f} s (in one process: import {cold['import_s']} s, "
                     f"Assistant.load {cold['load_s']} s, first ask {cold['first_ask_s']} s)"))
    return rows


def _memory_row(label: str, mem: dict) -> Row:
    return _row(f"memory of the loaded index, {label} ({mem['chunks']:,} chunks, {mem['index_kind']}, "
                f"{mem['storage']} vectors) vs fp32 "
                f"vectors + UTF-8 text (titles and bodies), after {mem['questions']} hybrid searches",
                f"{mem['index_mb']:.0f} MB vs {mem['vectors_mb'] + mem['text_mb']:.0f} MB = {mem['ratio']:.2f}x "
                f"(allocated by the load {mem['loaded_mb']:.0f} MB, of which BM25 "
                f"{mem['loaded_mb'] - mem['dense_mb']:.0f} MB; memory-mapped pages made resident "
                f"{mem['mapped_mb']:.0f} MB of BM25's {mem['bm25_arrays_mb']:.0f} MB; besides: "
                f"fingerprint cache {mem['print_cache_mb']:.0f} MB, whole process growth "
                f"{mem['process_growth_mb']:.0f} MB)",
                "<= 1.3x", mem["ratio"] <= 1.3)


def _header(results: dict) -> list[str]:
    m = results["machine"]
    return [
        f"Command: `{results['command']}` — {results['date']}" + (" — **quick run**" if results["quick"] else ""),
        f"Machine: {m.get('cores')} cores, {m.get('cpu')} (family/model {m.get('family_model')}; "
        f"{', '.join(m.get('features', []))}), {m.get('memory_gib')} GiB; torch {m.get('torch')}, "
        f"openvino {m.get('openvino')}, faiss {m.get('faiss-cpu')}; load average at start / end "
        f"{results['load_average_start']} / {results.get('load_average_end')}",
        "",
        "| figure | measured | target | |",
        "|---|---|---|---|",
    ]


def markdown(results: dict) -> str:
    """The table of every figure in ``results`` (what ``bench/speed.py`` writes), in a fixed order of sections."""
    failed = {k: v["error"] for k, v in results["sections"].items() if isinstance(v, dict) and "error" in v}
    s = {k: v for k, v in results["sections"].items() if k not in failed}  # a failed section: listed below the table
    stack_sizes = results["params"].get("stack_sizes", [])
    queries = [("SciFact", s.get("query")), *((f"{n:,} chunks", s.get(f"stack_query_{n}")) for n in stack_sizes)]
    memories = [("SciFact", s.get("memory")), *(("synthetic", s.get(f"stack_memory_{n}")) for n in stack_sizes)]
    rows = [*_build_rows(s), *_quality_rows(s), *_incremental_rows(s), *_stack_build_rows(s, stack_sizes),
            *(row for label, query in queries if query for row in _query_rows(label, query)),
            *_dense_rows(s, results["params"].get("dense_sizes", [])), *_cold_rows(s),
            # (results from before the memory-mapped BM25 lack index_mb)
            *(_memory_row(label, mem) for label, mem in memories if mem and "index_mb" in mem)]
    notes = [f"- section `{k}` failed: {error}" for k, error in failed.items()]
    lines = _header(results) + [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows] + ([""] + notes if notes else [])
    return "\n".join(lines) + "\n"


def write_docs(path: Path, table: str) -> None:
    """Replace the table between the markers in ``path`` (the rest of the page is written by hand)."""
    text = path.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{path} has no {BEGIN} ... {END} block to replace")
    head, rest = text.split(BEGIN, 1)
    path.write_text(f"{head}{BEGIN}\n{table}{END}{rest.split(END, 1)[1]}")
