"""Does adapting the model to the SciFact corpus pay? A cheap fixed proxy for dense nDCG@10 on the train claims.

The proxy: one vector per abstract (title and text, cut at 128 word pieces) over the whole 5,183-abstract corpus,
the 809 train claims, nDCG@10 by qa's own metrics (pytrec_eval). The test claims are never read here.

What makes it affordable on 2 cores: training touches only the top layers (``bench.adapt_training``), so the corpus's
hidden states below them are the same for every adapted model. ``baseline`` runs the packaged model over the corpus
once and keeps the states entering layer ``CACHE_LAYER`` on disk (fp16); every adapted model is then scored by
running only its layers from there (a third of the cost of a full pass), after a check that this gives the vectors
``model.encode`` gives::

    python bench/adapt.py baseline --work /work/adapt-work
    python bench/adapt.py train --work /work/adapt-work --objective title --minutes 10
    python bench/adapt.py train --work /work/adapt-work --objective ict --minutes 10
    python bench/adapt.py train --work /work/adapt-work --objective title-bm25 --minutes 10

Each run appends one JSON line (objective, settings, steps, minutes, proxy nDCG@10, the gain over the baseline,
load average) to ``WORK/results.jsonl`` and prints it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import time
from pathlib import Path

import numpy as np

from bench import common

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "scifact"
CACHE_LAYER = 3  # states entering layer 3 of 6 are cached: valid for models that train at most the top 3 layers
MAX_TOKENS = 128
BATCH = 64
GATE = 0.01


def read_corpus(data: Path) -> tuple[list[str], list[tuple[str, str]]]:
    rows = [json.loads(line) for line in (data / "corpus.jsonl").read_text().splitlines() if line.strip()]
    return [row["_id"] for row in rows], [(row.get("title", ""), row.get("text", "")) for row in rows]


def proxy_texts(documents: list[tuple[str, str]]) -> list[str]:
    return [f"{title}\n{text}" if title else text for title, text in documents]


def train_claims(data: Path) -> tuple[list[str], list[str], dict[str, dict[str, int]]]:
    qrels = common.read_qrels(data / "train-qrels.tsv")
    rows = [json.loads(line) for line in (data / "train-queries.jsonl").read_text().splitlines() if line.strip()]
    rows = [row for row in rows if row["_id"] in qrels]
    return [row["_id"] for row in rows], [row["text"] for row in rows], qrels


def load_model(path: Path | None = None):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    from qa.embed.embedders import packaged_model_dir

    model = SentenceTransformer(str(path or packaged_model_dir()), device="cpu", local_files_only=True)
    model.max_seq_length = MAX_TOKENS
    return model


def _features(model, texts: list[str]) -> dict:
    tokenize = getattr(model, "preprocess", None) or model.tokenize
    features = tokenize(texts)
    return {k: features[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in features}


def cache_states(model, texts: list[str], work: Path) -> tuple[np.ndarray, np.ndarray]:
    """The states entering layer CACHE_LAYER for every text (fp16, padded to MAX_TOKENS) and the attention masks."""
    import torch

    bert = model[0].auto_model
    states = np.zeros((len(texts), MAX_TOKENS, bert.config.hidden_size), dtype=np.float16)
    masks = np.zeros((len(texts), MAX_TOKENS), dtype=np.int8)
    with torch.inference_mode():
        for first in range(0, len(texts), BATCH):
            features = _features(model, texts[first:first + BATCH])
            hidden = bert(**features, output_hidden_states=True).hidden_states[CACHE_LAYER]
            width = hidden.shape[1]
            states[first:first + len(hidden), :width] = hidden.numpy().astype(np.float16)
            masks[first:first + len(hidden), :width] = features["attention_mask"].numpy()
    np.save(work / "states.npy", states)
    np.save(work / "masks.npy", masks)
    return states, masks


def upper_vectors(model, states: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Normalised mean-pooled vectors from cached states, through the model's layers CACHE_LAYER and up."""
    import torch

    bert = model[0].auto_model
    out = np.zeros((len(states), bert.config.hidden_size), dtype=np.float32)
    with torch.inference_mode(), _upper_layers_only(bert):
        for first in range(0, len(states), BATCH):
            mask = torch.from_numpy(masks[first:first + BATCH].astype(np.int64))
            width = int(mask.sum(1).max())
            mask = mask[:, :width]
            hidden = torch.from_numpy(states[first:first + BATCH, :width].astype(np.float32))
            hidden = bert(inputs_embeds=hidden, attention_mask=mask).last_hidden_state
            weights = mask.unsqueeze(-1).float()
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            out[first:first + len(pooled)] = torch.nn.functional.normalize(pooled, dim=1).numpy()
    return out


@contextlib.contextmanager
def _upper_layers_only(bert):
    """``bert`` with its embeddings passing ``inputs_embeds`` through and only layers CACHE_LAYER and up."""
    import torch

    class PassThrough(torch.nn.Module):
        def forward(self, inputs_embeds=None, **_):
            return inputs_embeds

    embeddings, layers = bert.embeddings, bert.encoder.layer
    bert.embeddings, bert.encoder.layer = PassThrough(), layers[CACHE_LAYER:]
    try:
        yield bert
    finally:
        bert.embeddings, bert.encoder.layer = embeddings, layers


def proxy_ndcg(model, doc_ids: list[str], doc_vectors: np.ndarray, data: Path) -> float:
    qids, claims, qrels = train_claims(data)
    queries = model.encode(claims, batch_size=BATCH, normalize_embeddings=True, convert_to_numpy=True)
    scores = queries @ doc_vectors.T
    top = np.argsort(-scores, axis=1)[:, :100]
    run = {q: {doc_ids[j]: float(scores[i, j]) for j in top[i]} for i, q in enumerate(qids)}
    return round(common.ndcg_at_10(run, qrels), 4)


def check_cached_path(model, texts: list[str], states: np.ndarray, masks: np.ndarray) -> float:
    """The largest difference between cached-path vectors and ``model.encode``'s on a few texts (fp16 states)."""
    direct = model.encode(texts[:16], normalize_embeddings=True, convert_to_numpy=True)
    return float(np.abs(upper_vectors(model, states[:16], masks[:16]) - direct).max())


def baseline(work: Path, data: Path) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    model = load_model()
    doc_ids, documents = read_corpus(data)
    texts = proxy_texts(documents)
    started = time.perf_counter()
    states, masks = cache_states(model, texts, work)
    vectors = upper_vectors(model, states, masks)
    minutes = (time.perf_counter() - started) / 60
    return {"objective": "packaged (baseline)", "proxy_ndcg10": proxy_ndcg(model, doc_ids, vectors, data),
            "embed_minutes": round(minutes, 1),
            "cached_path_max_diff": check_cached_path(model, texts, states, masks)}


def bm25_negatives(queries: list[str], texts: list[str]) -> list[str]:
    """For query i (made from document i), the best BM25 document that is not document i."""
    from qa.index.lexical import LexicalIndex, index_files
    from qa.settings import LexicalSettings

    bm25 = LexicalIndex.from_files(index_files(texts, LexicalSettings()))
    negatives = []
    for i, query in enumerate(queries):
        scores = bm25.scores(query)
        scores[i] = -np.inf
        negatives.append(texts[int(np.argmax(scores))])
    return negatives


def training_data(objective: str, documents: list[tuple[str, str]], seed: int):
    """Pairs (and hard negatives) for ``objective``; each pair's document is kept aligned for the negatives."""
    from bench.adapt_training import ict_pairs, title_pairs

    kind, _, extra = objective.partition("-")
    make = {"title": lambda docs: title_pairs(docs), "ict": lambda docs: ict_pairs(docs, seed=seed)}[kind]
    aligned = [(i, pair) for i, doc in enumerate(documents) for pair in make([doc])]
    pairs = [pair for _, pair in aligned]
    if extra != "bm25":
        return pairs, None
    texts = proxy_texts(documents)
    negatives = bm25_negatives([q for q, _ in pairs], [texts[i] for i, _ in aligned])
    return pairs, negatives


def adapted(work: Path, data: Path, args: argparse.Namespace) -> dict:
    from bench.adapt_training import train

    model = load_model()
    doc_ids, documents = read_corpus(data)
    pairs, negatives = training_data(args.objective, documents, args.seed)
    report = train(model, pairs, seconds=args.minutes * 60, batch_size=args.batch, learning_rate=args.lr,
                   trainable_layers=args.layers, negatives=negatives, seed=args.seed,
                   on_step=lambda step, loss: step % 10 == 0 and print(f"step {step} loss {loss:.4f}", flush=True))
    states, masks = np.load(work / "states.npy", mmap_mode="r"), np.load(work / "masks.npy")
    score = proxy_ndcg(model, doc_ids, upper_vectors(model, states, masks), data)
    base = next(r for r in _results(work) if r["objective"].startswith("packaged"))["proxy_ndcg10"]
    if args.save:
        model.save(str(args.save))
    return {"objective": args.objective, "lr": args.lr, "layers": args.layers, "batch": args.batch,
            "pairs": len(pairs), "steps": report.steps, "train_minutes": round(report.seconds / 60, 1),
            "loss_first": round(report.first_loss, 4), "loss_last10": round(report.last_loss, 4),
            "proxy_ndcg10": score, "gain": round(score - base, 4), "passes_gate": score - base >= GATE}


def _results(work: Path) -> list[dict]:
    path = work / "results.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("step", choices=["baseline", "train"])
    parser.add_argument("--work", type=Path, required=True, help="where the cached states and results live")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--objective", default="title", choices=["title", "ict", "title-bm25", "ict-bm25"])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--layers", type=int, default=2, help=f"top layers trained (at most {6 - CACHE_LAYER})")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", type=Path, help="save the adapted model here")
    args = parser.parse_args()
    if args.layers > 6 - CACHE_LAYER:
        parser.error(f"--layers {args.layers}: the cached states allow at most {6 - CACHE_LAYER}")
    result = baseline(args.work, args.data) if args.step == "baseline" else adapted(args.work, args.data, args)
    result["load_average"] = common.load_average()
    with (args.work / "results.jsonl").open("a") as out:
        out.write(json.dumps(result) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
