"""Tokens the model runs for the first N SciFact documents: per chunk setting, real and padded, against bare_st.py.

    .venv/bin/python bench/tokens.py --docs 1000

Counts only (the tokenizer, no model; a few seconds), so the figures do not depend on the machine's load. For
each chunk setting: the chunks, the tokens the model reads (special tokens included, at most 256 a text), and the
tokens it runs once every batch of ``--batch`` (16: a batch of 32 shared out among OpenVINO's 2 streams) is
padded to its longest text, with the texts ordered by characters (as ``SentenceTransformer.encode`` and qa's
encoder before did) or by tokens (``qa.embed.runtimes.length_batches``, what qa does now). ``title first only``
is the default setting with the title prepended to a document's first chunk alone. The bare script's texts
(title and abstract, one per document) are counted the same way.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import scifact  # noqa: E402

CANDIDATES = {"default (200, overlap 40, title 40)": {}, "overlap 20": {"overlap_tokens": 20},
              "overlap 0": {"overlap_tokens": 0}, "214 tokens, overlap 0": {"max_tokens": 214, "overlap_tokens": 0},
              "230 tokens, title 24, overlap 0": {"max_tokens": 230, "title_tokens": 24, "overlap_tokens": 0}}


def padded(lengths: list[int], batches: list[list[int]]) -> int:
    return sum(max(lengths[i] for i in batch) * len(batch) for batch in batches)


def figures(texts: list[str], embedder, batch: int) -> dict[str, int]:
    from qa.embed.runtimes import length_batches

    lengths = [min(len(embedder.token_spans(text)) + 2, embedder.max_tokens) for text in texts]
    by_chars = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    return {"texts": len(texts), "tokens": sum(lengths),
            "padded_by_characters": padded(lengths, [by_chars[s:s + batch] for s in range(0, len(texts), batch)]),
            "padded_by_tokens": padded(lengths, length_batches(lengths, batch))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args(argv)
    from qa.embed.embedders import embedder_for
    from qa.ingest.chunking import chunk_document, chunks_to_embed, embedding_text
    from qa.ingest.corpus import read_corpus
    from qa.settings import ChunkSettings

    lines = scifact.corpus_lines()[:args.docs]
    embedder = embedder_for(variant="torch-fp32", device="cpu")  # only its tokenizer is used
    with tempfile.TemporaryDirectory(prefix="qa-tokens-") as tmp:
        documents = read_corpus(scifact.write_corpus(Path(tmp), lines)).documents
    rows = {"bare_st.py (one text per document)": figures(
        [f"{r['title']}. {r['text']}" for r in map(json.loads, lines)], embedder, args.batch)}
    for name, fields in CANDIDATES.items():
        settings = ChunkSettings(**fields)
        rows[name] = figures([text for doc in documents for _, text in chunks_to_embed(doc, embedder.token_spans,
                                                                                       settings)],
                             embedder, args.batch)
    first_only = [embedding_text(doc, chunk, embedder.token_spans, ChunkSettings()) if chunk.index == 0 else chunk.text
                  for doc in documents for chunk in chunk_document(doc, embedder.token_spans, ChunkSettings())]
    rows["title first only"] = figures(first_only, embedder, args.batch)
    print(json.dumps({"docs": len(documents), "batch": args.batch, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
