"""The benchmark sections. Each runs in its own process (``bench/speed.py`` starts them), so its peak memory is
its own and nothing one section loaded speeds up or slows down the next. Each returns a dict of figures.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench import scifact
from bench.common import pct
from bench.measure import du_mb, latencies, mapped_mb, rss_mb

QUESTION = "0-dimensional biomaterials show inductive properties."


def _embedder(variant: str = "auto", cache: Path | None = None):
    from qa.embed.embedders import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(device="cpu", variant=variant, model_cache=cache)


def _texts(corpus: Path, embedder) -> list[str]:
    """What the build embeds for the one-file ``corpus``: every chunk's text as the model reads it."""
    from qa.ingest import readers
    from qa.ingest.chunking import chunks_to_embed
    from qa.settings import DEFAULT

    docs = readers.read_document(corpus, corpus.name, corpus.read_bytes()).documents
    return [text for d in docs for _, text in chunks_to_embed(d, embedder.token_spans, DEFAULT.chunk)]


def build(work: Path, docs: int) -> dict:
    """A fresh index of the first ``docs`` SciFact documents with the default variant; nothing cached."""
    from qa.index import store
    from qa.index.build import build_index

    corpus = scifact.write_corpus(work / "build-corpus", scifact.corpus_lines()[:docs])
    index = work / "build-index"
    shutil.rmtree(index, ignore_errors=True)
    embedder = _embedder(cache=work / "models")
    started = time.perf_counter()
    embedder.embed(["warm up"])  # model load (and, the first time, its OpenVINO export) is reported apart
    load_s = time.perf_counter() - started
    report = build_index(corpus, index, embedder, progress=False)
    texts = _texts(corpus, embedder)
    (work / "texts.json").write_text(json.dumps(texts))
    tokens = sum(len(embedder.token_spans(t)) + 2 for t in texts)
    gen = store.generation_dir(index, report.generation)
    return {
        "docs": report.documents, "chunks": report.chunks, "embedded": report.chunks_embedded,
        "tokens": tokens, "variant": embedder.variant, "model_load_s": round(load_s, 2),
        "seconds": report.seconds, "chunks_per_s": round(report.chunks / report.seconds, 1),
        "tokens_per_s": round(tokens / report.seconds), "peak_rss_mb": round(rss_mb("VmHWM")),
        "disk_mb": {"generation": round(du_mb(gen), 2), "embedding_cache": round(du_mb(index / "cache"), 2),
                    "files": {p.name: round(p.stat().st_size / 2**20, 2) for p in sorted(gen.iterdir())
                              if p.is_file()}},
    }


def raw_encode(work: Path) -> dict:
    """``SentenceTransformer.encode`` in fp32 on the texts the build embedded, as the reference, warm."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    from qa.embed.embedders import packaged_model_dir

    texts = json.loads((work / "texts.json").read_text())
    model = SentenceTransformer(str(packaged_model_dir()), device="cpu", local_files_only=True)
    model.max_seq_length = 256
    # subtle: torch builds kernels for each new batch shape on first sight, which made a first pass half as fast;
    # the reference is timed on a second pass over the same texts, its best case (the build is timed cold).
    model.encode(texts, batch_size=32)
    started = time.perf_counter()
    model.encode(texts, batch_size=32, normalize_embeddings=True)
    seconds = time.perf_counter() - started
    tokens = sum(len(model.tokenizer(t)["input_ids"]) for t in texts)
    return {"texts": len(texts), "tokens": tokens, "seconds": round(seconds, 2),
            "chunks_per_s": round(len(texts) / seconds, 1), "tokens_per_s": round(tokens / seconds),
            "peak_rss_mb": round(rss_mb("VmHWM"))}


def full_index(work: Path, reuse: Path | None, docs: int | None = None) -> dict:
    """SciFact (its first ``docs`` documents in a quick run) indexed in ``work/scifact-index``, from a copy of
    ``reuse`` when given, and the model made ready (its one-time export) for the sections that follow."""
    from qa.index.build import build_index

    corpus = scifact.write_corpus(work / "corpus", scifact.corpus_lines()[:docs])
    index = work / "scifact-index"
    shutil.rmtree(index, ignore_errors=True)
    if reuse is not None:
        shutil.copytree(reuse, index, ignore=shutil.ignore_patterns("build.lock"))
    embedder = _embedder(cache=index / "cache")
    report = build_index(corpus, index, embedder, progress=False)
    started = time.perf_counter()
    embedder.embed(["warm up"])  # the one-time model export into index/cache, if the build did not need the model
    return {"reused_from": str(reuse) if reuse else None, "chunks": report.chunks,
            "embedded": report.chunks_embedded, "seconds": report.seconds,
            "model_ready_s": round(time.perf_counter() - started, 2)}


def _qa_index(work: Path) -> float:
    """Wall time of the `qa index` command on the SciFact copy: process start, model load, build, exit."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "qa", "index", "--corpus", str(work / "corpus"), "--index",
                    str(work / "scifact-index"), "-q"], check=True, capture_output=True, cwd=scifact.REPO)
    return round(time.perf_counter() - started, 2)


def _changed(lines: list[str], tag: str) -> list[str]:
    """The corpus with its first document's text changed (one more sentence, marked by ``tag``)."""
    record = json.loads(lines[0])
    record["text"] += f" This sentence ({tag}) was added to measure an incremental rebuild."
    return [json.dumps(record), *lines[1:]]


def _added(lines: list[str], tag: str, n: int = 100) -> list[str]:
    """``n`` new documents: copies of existing ones under new ids, each with a new first sentence."""
    out = []
    for i, line in enumerate(lines[1:n + 1]):
        record = json.loads(line)
        record["_id"], record["text"] = f"added-{tag}-{i}", f"Added record {tag} {i}. {record['text']}"
        out.append(json.dumps(record))
    return out


def incremental(work: Path) -> dict:
    """Re-index after nothing changed, after 1 changed document and after 100 added documents, each measured
    as the `qa index` command (new process: imports, model load, build) and as the build call in a warm process."""
    from qa.index.build import build_index

    path = work / "corpus" / "corpus.jsonl"
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    states = {"changed_1": _changed(lines, "a"), "added_100": _changed(lines, "a") + _added(lines, "a")}
    out: dict = {"unchanged": {"command_s": _qa_index(work)}}
    for name, state in states.items():
        path.write_text("\n".join(state) + "\n")
        out[name] = {"command_s": _qa_index(work)}

    embedder = _embedder(cache=work / "scifact-index" / "cache")
    embedder.embed(["warm up"])

    def call(state: list[str]):
        path.write_text("\n".join(state) + "\n")
        return build_index(path.parent, work / "scifact-index", embedder, progress=False)

    call(lines)
    for name, state in {"changed_1": _changed(lines, "b"), "added_100": _changed(lines, "b") + _added(lines, "b")
                        }.items():
        report = call(state)
        out[name].update({"call_s": report.seconds, "embedded": report.chunks_embedded,
                          "reused": report.chunks_reused})
    call(lines)  # back to the real corpus for the sections that follow
    out["unchanged"]["call_s"] = call(lines).seconds
    return out


def query(work: Path, n: int, index: Path | None = None) -> dict:
    """p50/p95 per mode, one question at a time after a warm-up; ``ask`` is the default call, answer included."""
    from qa.assistant import Assistant

    assistant = Assistant.load(index or work / "scifact-index")
    questions = [text for _, text in scifact.queries()][:n]
    out: dict = {"chunks": len(assistant.data.chunks), "variant": assistant.embedder.variant,
                 "index_kind": assistant.data.manifest.index.spec.kind}
    search_ms: dict[str, list[float]] = {}

    def call(mode: str | None):
        def ask(q: str) -> None:
            result = assistant.ask(q, mode=mode)
            search_ms.setdefault(mode or "ask", []).append(result.timings_ms.get("search", float("nan")))
        return ask

    for mode in ("dense", "lexical", "hybrid", None):
        total = latencies(call(mode), questions)
        name = mode or "ask"
        out[name] = {"total": pct(total), "search": pct(np.array(search_ms[name][-len(questions):]))}
    embed = latencies(lambda q: assistant.embedder.embed([q]), questions)
    out["embed_question"] = pct(embed)
    out["default_mode"] = assistant.settings.retrieval.mode
    return out


def _warm_loaders() -> None:
    """Libraries first, so that only the loaded data is measured: the loaders import modules and fill caches of
    their own the first time they run (bm25s: about 5 MB), so a three-document index is loaded and searched once
    before the real one."""
    import tempfile

    from qa.embed.embedders import HashingEmbedder
    from qa.index.build import build_index
    from qa.search.searcher import Searcher
    from qa.settings import RetrievalSettings

    with tempfile.TemporaryDirectory(prefix="qa-bench-warm-") as tmp:
        (Path(tmp) / "corpus").mkdir()
        for i in range(3):
            (Path(tmp) / "corpus" / f"{i}.txt").write_text(f"Warm up {i}\n\nRivers and lakes number {i}.")
        build_index(Path(tmp) / "corpus", Path(tmp) / "index", HashingEmbedder(384), progress=False)
        Searcher.load(Path(tmp) / "index").search("rivers", np.ones(384, np.float32) / 384 ** 0.5, 2,
                                                  mode="hybrid", settings=RetrievalSettings())


def _search_every_claim(searcher) -> int:
    """Every SciFact test claim searched in hybrid mode, without the model: each claim's question vector is a chunk
    vector of the index (spread evenly over its rows). Returns how many claims were searched."""
    from qa.index import vector_index
    from qa.settings import RetrievalSettings

    questions = [text for _, text in scifact.queries()]
    rows = np.linspace(0, len(searcher.data.chunks) - 1, len(questions)).astype(int)
    proxies = vector_index.vectors_of(searcher.data.faiss_index, rows)
    for question, vector in zip(questions, proxies, strict=True):
        searcher.search(question, vector, 10, mode="hybrid", settings=RetrievalSettings())
    return len(questions)


def memory(work: Path, index: Path | None = None) -> dict:
    """Memory of a loaded index, as `Searcher.load` (what `qa ask` loads) holds it, against the bytes of the float32
    vectors plus the documents' UTF-8 text (titles and bodies), after every SciFact test claim has been searched
    in hybrid mode.

    The index's memory is what loading it allocated (the FAISS index, documents, chunk table, BM25 vocabulary and
    calibration: anonymous memory, measured just after the load) plus the pages of its memory-mapped files (BM25
    score arrays) that the searches made resident. The searcher's fingerprint cache and the
    process's whole growth over the searches (allocator slack, library code paged in) are reported beside it.
    The model is not loaded (its memory is the model's): each claim's question vector is a chunk vector of the
    index, and which BM25 columns and vector rows a search reads depends on the claim's words, so the pages
    touched are those of real questions.
    """
    import gc

    from qa.index import store
    from qa.search.searcher import Searcher, return_freed_memory

    _warm_loaders()
    gc.collect()
    anon, rss = rss_mb("RssAnon"), rss_mb()
    data = store.load(index or work / "scifact-index")
    gc.collect()
    return_freed_memory()
    dense = rss_mb("RssAnon") - anon
    searcher = Searcher.from_data(data)  # the rest of Searcher.load, apart to measure the dense part alone
    gc.collect()
    loaded = rss_mb("RssAnon") - anon
    questions = _search_every_claim(searcher)
    gc.collect()
    mapped = mapped_mb(data.path)
    used = loaded + mapped
    vectors = data.faiss_index.ntotal * data.faiss_index.d * 4 / 2**20
    text = sum(len(d.title.encode()) + len(d.text.encode()) for d in data.documents) / 2**20
    bm25 = searcher.lexical.score_array_bytes() / 2**20
    return {"chunks": len(data.chunks), "index_kind": data.manifest.index.spec.kind,
            "storage": data.manifest.index.spec.storage, "questions": questions,
            "vectors_mb": round(vectors, 2), "text_mb": round(text, 2), "bm25_arrays_mb": round(bm25, 2),
            "dense_mb": round(dense, 2), "loaded_mb": round(loaded, 2), "mapped_mb": round(mapped, 2),
            "index_mb": round(used, 2), "print_cache_mb": round(searcher.print_cache.currsize / 2**20, 2),
            "process_growth_mb": round(rss_mb() - rss, 2), "ratio": round(used / (vectors + text), 3)}


def _serve_to_first_answer(index: Path, corpus: Path) -> dict:
    """`qa serve` started in a new process; seconds until it says it is ready, and until its /ask API answers."""
    import urllib.request

    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "qa", "serve", "--index", str(index), "--corpus", str(corpus),
                             "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            cwd=scifact.REPO, env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})
    try:
        url = next((line.split("the chat is at ", 1)[1].split()[0] for line in proc.stdout
                    if "the chat is at" in line), None)  # --port 0: the port it bound
        ready = time.perf_counter() - started
        if url is None:
            return {"error": "qa serve stopped before it said where it listens"}
        base = f"{url}gradio_api/call/ask"
        request = urllib.request.Request(base, data=json.dumps({"data": [QUESTION, 5, ""]}).encode(),
                                         headers={"Content-Type": "application/json"})
        event = json.loads(urllib.request.urlopen(request, timeout=120).read())["event_id"]
        answer = urllib.request.urlopen(f"{base}/{event}", timeout=120).read().decode()
        first = time.perf_counter() - started
        if "event: complete" not in answer:
            return {"error": f"the /ask API did not answer: {answer[:200]}"}
        return {"ready_s": round(ready, 2), "first_answer_s": round(first, 2)}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def cold(work: Path) -> dict:
    """From a new process to the first answer: `qa serve` and `qa ask`, and the parts of it in-process."""
    index = work / "scifact-index"
    out: dict = {"serve": _serve_to_first_answer(index, work / "corpus")}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "qa", "ask", QUESTION, "--index", str(index)], check=True,
                   capture_output=True, cwd=scifact.REPO)
    out["qa_ask_command_s"] = round(time.perf_counter() - started, 2)
    t0 = time.perf_counter()
    from qa.assistant import Assistant

    t1 = time.perf_counter()
    assistant = Assistant.load(index)
    t2 = time.perf_counter()
    assistant.ask(QUESTION)
    t3 = time.perf_counter()
    out.update({"import_s": round(t1 - t0, 2), "load_s": round(t2 - t1, 2), "first_ask_s": round(t3 - t2, 2)})
    return out


def _dense_run(index: Path, embedder, storage: str | None = None) -> dict[str, dict[str, float]]:
    """SciFact run of dense search; ``storage="fp32"`` searches exact fp32 vectors instead of the index's own."""
    from qa.assistant import Assistant
    from qa.index import store, vector_index

    assistant = Assistant.load(index, embedder=embedder)
    if storage:  # the generation keeps its fp32 vectors beside the index
        vectors = np.array(store.load(index, with_vectors=True).vectors)
        spec = vector_index.IndexSpec("flat", storage=storage)
        assistant.searcher.data.faiss_index = vector_index.build(vectors, spec)
    run = {}
    for qid, text in scifact.queries():
        result = assistant.ask(text, k=10, mode="dense")
        run[qid] = {p.doc_id.removeprefix(scifact.PREFIX): p.score for p in result.passages}
    return run


def _variant_speeds(work: Path, sample: int) -> tuple[int, dict[str, float]]:
    """Texts per second of the raw ``SentenceTransformer.encode`` in fp32 and of each CPU variant, on the same
    ``sample`` SciFact chunk texts (drawn with a fixed seed), each timed on a second pass (see raw_encode)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    from qa.embed.embedders import packaged_model_dir

    rng = np.random.default_rng(0)
    all_texts = _texts(work / "corpus" / "corpus.jsonl", _embedder("torch-fp32"))
    texts = [all_texts[i] for i in sorted(rng.choice(len(all_texts), min(sample, len(all_texts)), replace=False))]
    reference = SentenceTransformer(str(packaged_model_dir()), device="cpu", local_files_only=True)
    reference.max_seq_length = 256
    speed: dict[str, float] = {}
    candidates = {"raw SentenceTransformer.encode fp32": lambda t: reference.encode(t, batch_size=32)}
    for variant in ("torch-fp32", "openvino-fp32", "openvino-bf16"):
        candidates[variant] = _embedder(variant, work / "models").embed
    for name, encode in candidates.items():
        encode(texts)  # a full untimed pass first: each variant timed warm (see raw_encode)
        started = time.perf_counter()
        encode(texts)
        speed[name] = round(len(texts) / (time.perf_counter() - started), 1)
    return len(texts), speed


def _fp32_and_default_indexes(work: Path, reuse: Path | None, fp32_index: Path, fast_index: Path):
    """SciFact embedded in fp32 into ``fp32_index`` (from a copy of ``reuse`` when that was embedded in fp32) and
    with the default variant into ``fast_index``: ``(reused, fp32 embedder, default embedder, its build report)``."""
    from qa.index import store
    from qa.index.build import build_index

    corpus = work / "corpus"
    for folder in (fp32_index, fast_index):
        shutil.rmtree(folder, ignore_errors=True)
    reusable = reuse and (store.load(reuse).manifest.model.variant or "torch-fp32") == "torch-fp32"
    if reusable:
        shutil.copytree(reuse, fp32_index, ignore=shutil.ignore_patterns("build.lock"))
    fp32 = _embedder("torch-fp32")
    build_index(corpus, fp32_index, fp32, progress=False)
    fast = _embedder(cache=work / "models")
    report = build_index(corpus, fast_index, fast, progress=False)
    return bool(reusable), fp32, fast, report


def _cosines(fp32_index: Path, fast_index: Path) -> np.ndarray:
    """Each chunk vector of ``fast_index`` against the same chunk's vector in ``fp32_index`` (both unit length)."""
    from qa.index import store

    a = np.asarray(store.load(fp32_index, with_vectors=True).vectors)
    b = np.asarray(store.load(fast_index, with_vectors=True).vectors)
    return (a * b).sum(axis=1)


def quality(work: Path, reuse: Path | None, sample: int) -> dict:
    """Each CPU variant's throughput on the same texts, and SciFact nDCG@10 (dense) of a full index embedded
    with the default variant against one embedded in fp32."""
    sample_texts, speed = _variant_speeds(work, sample)
    fp32_index, fast_index = work / "fp32-index", work / "variant-index"
    reusable, fp32, fast, report = _fp32_and_default_indexes(work, reuse, fp32_index, fast_index)
    cosine = _cosines(fp32_index, fast_index)
    # "fp32 index": vectors embedded in fp32 and searched exactly in fp32, the reference; the others are searched
    # as qa searches them, in the index's fp16 storage (qa.index.vector_index)
    ndcg = {
        "fp32 index, fp32 queries": scifact.ndcg_at_10(_dense_run(fp32_index, fp32, storage="fp32")),
        "fp32 vectors in fp16 storage, fp32 queries": scifact.ndcg_at_10(_dense_run(fp32_index, fp32)),
        f"{fast.variant} index, {fast.variant} queries": scifact.ndcg_at_10(_dense_run(fast_index, fast)),
        f"fp32 index, {fast.variant} queries": scifact.ndcg_at_10(_dense_run(fp32_index, fast)),
        f"{fast.variant} index, fp32 queries": scifact.ndcg_at_10(_dense_run(fast_index, fp32)),
    }
    return {"sample_texts": sample_texts, "texts_per_s": speed, "variant": fast.variant,
            "fp32_index_reused": reusable,
            "full_build": {"chunks": report.chunks, "seconds": report.seconds,
                           "chunks_per_s": round(report.chunks / report.seconds, 1)},
            "cosine_vs_fp32": {"min": round(float(cosine.min()), 6), "mean": round(float(cosine.mean()), 6)},
            "ndcg_at_10": {k: round(v, 4) for k, v in ndcg.items()}}
