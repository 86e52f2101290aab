"""Ways to run the OpenVINO encoder, alternated in one process on the same SciFact chunk texts (texts/s).

    .venv/bin/python bench/encoder_options.py --reference index-eval/scifact [--texts 64 --rounds 2]

One stream of every thread (PERFORMANCE_HINT=LATENCY) in batches of 32 and 16, against THROUGHPUT (one stream per
core or two) with an AsyncInferQueue, batches of 16 and 8; and the tokenizer's share of the time, which says whether
tokenizing in a second thread could pay. The texts are sorted by length, as the build sorts them.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.int8_quality import chunk_texts  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reference", type=Path, required=True, help="any SciFact index (its chunks are read)")
    parser.add_argument("--texts", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    texts = _sample_texts(args.reference, args.texts)
    model, batches = _model_and_batches(texts)
    options = _options(model, batches)
    started = time.perf_counter()
    batches(32)
    tokenize_s = time.perf_counter() - started
    seen = _alternate(options, len(texts), args.rounds)
    print(f"{len(texts)} texts; tokenizing them all: {tokenize_s:.3f} s; load average {os.getloadavg()}")
    for name, rates in seen.items():
        print(f"{name:32s} {rates} texts/s, best {max(rates)}")
    return 0


def _sample_texts(reference: Path, n: int) -> list[str]:
    """``n`` chunk texts of the reference index, picked with a fixed seed, sorted by length as the build sorts."""
    from qa.index import store

    every = chunk_texts(store.load(reference))
    picked = np.random.default_rng(1).choice(len(every), n, replace=False)
    return sorted((every[i] for i in sorted(picked)), key=len)


def _model_and_batches(texts: list[str]) -> tuple[Any, Callable[[int], list[dict[str, np.ndarray]]]]:
    """The exported fp32 OpenVINO model (read, not compiled) and a function that tokenizes ``texts`` in batches."""
    from tokenizers import Tokenizer

    from qa.embed import runtimes
    from qa.embed.embedders import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(variant="openvino-fp32", device="cpu")
    embedder.prepare()
    xml = embedder.model_cache / f"{embedder.weights_fingerprint}-openvino" / "model.xml"
    model = runtimes.openvino_core().read_model(str(xml))
    tokenizer = Tokenizer.from_file(str(embedder.model_dir / "tokenizer.json"))
    tokenizer.enable_truncation(256)
    tokenizer.enable_padding()

    def batches(size: int) -> list[dict[str, np.ndarray]]:
        out = []
        for start in range(0, len(texts), size):
            encoded = tokenizer.encode_batch(texts[start:start + size])
            out.append({"input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
                        "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64)})
        return out

    return model, batches


def _options(model: Any, batches: Callable[[int], list[dict[str, np.ndarray]]]) -> dict[str, Callable[[], Any]]:
    """Each way of running the model, as a function that embeds every text once."""
    from qa.embed import runtimes

    ov, core = runtimes.import_openvino(), runtimes.openvino_core()
    latency = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"})
    throughput = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32",
                                                   "PERFORMANCE_HINT": "THROUGHPUT"})
    streams = int(throughput.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))

    def sync(size: int) -> Callable[[], Any]:
        request = latency.create_infer_request()
        return lambda: [request.infer(b) for b in batches(size)]

    def asynchronous(size: int) -> Callable[[], Any]:
        queue = ov.AsyncInferQueue(throughput, streams)

        def run() -> None:
            for b in batches(size):
                queue.start_async(b)
            queue.wait_all()
        return run

    return {"latency, batch 32": sync(32), "latency, batch 16": sync(16),
            f"throughput {streams} streams, batch 16": asynchronous(16),
            f"throughput {streams} streams, batch 8": asynchronous(8)}


def _alternate(options: dict[str, Callable[[], Any]], texts: int, rounds: int) -> dict[str, list[float]]:
    """texts/s of each option, one warm run each, then ``rounds`` rounds alternating between them."""
    for run in options.values():
        run()
    seen: dict[str, list[float]] = {name: [] for name in options}
    for _ in range(rounds):
        for name, run in options.items():
            started = time.perf_counter()
            run()
            seen[name].append(round(texts / (time.perf_counter() - started), 1))
    return seen


if __name__ == "__main__":
    sys.exit(main())
