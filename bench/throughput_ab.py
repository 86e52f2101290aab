"""qa's embedder (as the build runs it) against raw fp32 ``SentenceTransformer.encode``, alternating in one process.

    .venv/bin/python bench/throughput_ab.py --reference index-eval/scifact --texts 160 --rounds 3

The same SciFact chunk texts (a seeded sample of those the build embeds) for both, each warm, ``--rounds`` rounds
alternating, texts/s per round; the ratio of the best rounds is the speed-up (the machine may be shared).
"""

from __future__ import annotations

import argparse
import json
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
    parser.add_argument("--texts", type=int, default=160)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variant", default="auto")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    from qa.embed.embedders import SentenceTransformerEmbedder, packaged_model_dir
    from qa.index import store

    every = chunk_texts(store.load(args.reference))
    texts = [every[i] for i in sorted(np.random.default_rng(0).choice(len(every), args.texts, replace=False))]
    qa_embedder = SentenceTransformerEmbedder(variant=args.variant, device="cpu")
    raw = SentenceTransformer(str(packaged_model_dir()), device="cpu", local_files_only=True)
    raw.max_seq_length = 256
    runs = {f"qa {qa_embedder.variant}": lambda: qa_embedder.embed(texts, batch_size=32),
            "raw SentenceTransformer.encode fp32": lambda: raw.encode(texts, batch_size=32,
                                                                      normalize_embeddings=True)}
    for run in runs.values():
        run()  # warm: torch builds kernels per new shape on first sight
    rates: dict[str, list[float]] = {name: [] for name in runs}
    loads = [os.getloadavg()]
    for _ in range(args.rounds):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            rates[name].append(round(len(texts) / (time.perf_counter() - started), 1))
        loads.append(os.getloadavg())
    best = {name: max(r) for name, r in rates.items()}
    qa_name, raw_name = list(runs)
    print(json.dumps({"texts": len(texts), "texts_per_s": rates, "best_ratio": round(best[qa_name] / best[raw_name], 2),
                      "load_average": [[round(x, 2) for x in load] for load in loads]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
