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
from pathlib import Path

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

    from tokenizers import Tokenizer

    from qa.embed import runtimes
    from qa.embed.embedders import SentenceTransformerEmbedder
    from qa.index import store

    every = chunk_texts(store.load(args.reference))
    picked = np.random.default_rng(1).choice(len(every), args.texts, replace=False)
    texts = sorted((every[i] for i in sorted(picked)), key=len)
    embedder = SentenceTransformerEmbedder(variant="openvino-fp32", device="cpu")
    embedder.prepare()
    xml = embedder.model_cache / f"{embedder.weights_fingerprint}-openvino" / "model.xml"
    ov = runtimes._import_openvino()
    core = runtimes._core()
    model = core.read_model(str(xml))
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

    latency = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"})
    throughput = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32",
                                                   "PERFORMANCE_HINT": "THROUGHPUT"})
    streams = int(throughput.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))

    def sync(size: int):
        request = latency.create_infer_request()
        return lambda: [request.infer(b) for b in batches(size)]

    def asynchronous(size: int):
        queue = ov.AsyncInferQueue(throughput, streams)

        def run() -> None:
            for b in batches(size):
                queue.start_async(b)
            queue.wait_all()
        return run

    options = {"latency, batch 32": sync(32), "latency, batch 16": sync(16),
               f"throughput {streams} streams, batch 16": asynchronous(16),
               f"throughput {streams} streams, batch 8": asynchronous(8)}
    started = time.perf_counter()
    batches(32)
    tokenize_s = time.perf_counter() - started
    for run in options.values():
        run()  # warm
    seen: dict[str, list[float]] = {name: [] for name in options}
    for _ in range(args.rounds):
        for name, run in options.items():
            started = time.perf_counter()
            run()
            seen[name].append(round(len(texts) / (time.perf_counter() - started), 1))
    print(f"{len(texts)} texts; tokenizing them all: {tokenize_s:.3f} s; load average {os.getloadavg()}")
    for name, rates in seen.items():
        print(f"{name:32s} {rates} texts/s, best {max(rates)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
