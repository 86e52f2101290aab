"""How the search defaults were chosen: a grid over fusion settings on data we do not report.

    .venv/bin/python bench/tune.py            # about 35 minutes on 2 cores once the two indexes exist

Tuning data: the SciFact *train* split (809 claims, same corpus as the test split) and the SQuAD v1.1 dev questions
of the odd-numbered articles (24 of 48 articles, 5,173 questions; bench/quality.py reports all 10,570, and the even
half separately, so the figures on questions never used here can be read apart). The SciFact *test* claims are never
used here.

Every configuration runs the real search code (``qa.search.searcher.Searcher``) with question vectors embedded
once, so a grid point costs seconds. BM25 parameters are varied by rebuilding the BM25 index in memory (about a second).
The rule: the hybrid setting with the best mean nDCG@10 over the two tuning sets becomes the default (printed last
as "chosen"). Results go to bench/results/tune.json; the defaults are in qa/settings.py, the figures in the README.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a file: the repository's bench and qa

from bench.common import EVEN, ODD, squad_half_queries  # noqa: E402
from qa.evaluation.evaluate import Dataset, default_index, load_dataset  # noqa: E402
from qa.evaluation.metrics import ranking_metrics, strict_scores  # noqa: E402
from qa.index import lexical  # noqa: E402
from qa.search.searcher import Searcher  # noqa: E402
from qa.settings import LexicalSettings, RetrievalSettings  # noqa: E402

DATA = REPO.parent / "shared" / "data"
TOP = 20


def squad_half(dataset: Dataset, odd: bool) -> Dataset:
    """The questions whose paragraph belongs to an odd- (or even-) numbered article (``_id`` is ``article_para``)."""
    half = ODD if odd else EVEN
    keep = squad_half_queries(dataset.qrels, half)
    return replace(dataset, name=f"{dataset.name}-{half}", qrels={q: r for q, r in dataset.qrels.items() if q in keep},
                   queries={q: t for q, t in dataset.queries.items() if q in keep})


def prepared(dataset: Dataset, index: Path, embedder) -> tuple[Searcher, dict, list[str]]:
    from qa.index.build import build_index

    build_index(dataset.corpus, index, embedder, progress=True)
    searcher = Searcher.load(index)
    qids = list(dataset.queries)
    vectors = question_vectors([dataset.queries[q] for q in qids], index, embedder)
    return searcher, dict(zip(qids, vectors, strict=True)), qids


def question_vectors(texts: list[str], index: Path, embedder) -> list:
    """Question vectors through the index's embedding cache, so a second run embeds nothing."""
    from qa.embed.cache import EmbeddingCache, text_key

    cache = EmbeddingCache(index / "cache" / "embeddings.sqlite", embedder.fingerprint, embedder.dim)
    try:
        keys = [text_key(t) for t in texts]
        found = cache.get_many(keys)
        missing = [i for i, key in enumerate(keys) if key not in found]
        if missing:
            fresh = embedder.embed([texts[i] for i in missing], batch_size=64)
            cache.put_many((keys[i], v) for i, v in zip(missing, fresh, strict=True))
            found.update((keys[i], v) for i, v in zip(missing, fresh, strict=True))
        return [found[key] for key in keys]
    finally:
        cache.close()


def score(searcher: Searcher, dataset: Dataset, vectors: dict, settings: RetrievalSettings, mode: str) -> dict:
    """Metrics down to rank 10 (what the defaults are chosen on); 20 documents a question are plenty for them."""
    external = [d.external_id or d.doc_id for d in searcher.data.documents]
    doc_of = searcher.data.chunks.doc
    run = {}
    for qid, question in dataset.queries.items():
        hits = searcher.search(question, vectors[qid], TOP, mode=mode, settings=settings)
        run[qid] = strict_scores([(external[doc_of[h.row]], h.score) for h in hits])
    metrics = ranking_metrics(run, dataset.qrels)
    return {name: value for name, value in metrics.items() if name != "recall@100"}


def with_bm25(searcher: Searcher, params: LexicalSettings) -> Searcher:
    data = searcher.data
    texts = lexical.lexical_texts(data.documents, data.chunks)
    return Searcher(data, lexical.LexicalIndex.from_files(lexical.index_files(texts, params)), searcher.dense_stats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "tune.json")
    args = parser.parse_args()
    import faiss

    from qa.embed.embedders import SentenceTransformerEmbedder

    faiss.omp_set_num_threads(1)  # one question at a time: threads only add hand-off cost (10x, measured)
    embedder = SentenceTransformerEmbedder()
    scifact = load_dataset(DATA / "scifact", split="train")
    squad = squad_half(load_dataset(DATA / "squad-v1.1-dev"), odd=True)
    sets = [(scifact, *prepared(scifact, REPO / default_index(scifact), embedder)),
            (squad, *prepared(squad, REPO / default_index(load_dataset(DATA / "squad-v1.1-dev")), embedder))]
    grid = []
    bm25_grid = [LexicalSettings(k1=k1, b=b)
                 for k1, b in ((1.2, 0.75), (0.9, 0.4), (0.7, 0.3), (0.5, 0.3), (0.5, 0.5), (0.3, 0.3))]
    fusions = [RetrievalSettings(fusion="rrf", rrf_k=60)] + [
        RetrievalSettings(normaliser="corpus", dense_weight=w) for w in (0.5, 0.6, 0.65, 0.7, 0.8)] + [
        RetrievalSettings(normaliser=norm, dense_weight=w) for norm, w in itertools.product(("zscore", "minmax"),
                                                                                           (0.5, 0.7))]
    for params in bm25_grid:
        searchers = [(dataset, with_bm25(searcher, params), vectors) for dataset, searcher, vectors, _ in sets]
        for mode, settings in [("lexical", RetrievalSettings())] + [("hybrid", f) for f in fusions]:
            row = {"k1": params.k1, "b": params.b, "mode": mode, "fusion": settings.fusion,
                   "normaliser": settings.normaliser, "dense_weight": settings.dense_weight}
            for dataset, searcher, vectors in searchers:
                row[dataset.name] = {k: round(v, 4) for k, v in score(searcher, dataset, vectors, settings,
                                                                      mode).items()}
            grid.append(row)
            print(json.dumps(row), flush=True)
    dense = {dataset.name: score(searcher, dataset, vectors, RetrievalSettings(), "dense")
             for dataset, searcher, vectors, _ in sets}
    print(json.dumps({"mode": "dense", **dense}))
    # The rule, fixed before looking: the hybrid setting with the best mean nDCG@10 over the two tuning sets.
    names = [dataset.name for dataset, *_ in sets]
    chosen = max((row for row in grid if row["mode"] == "hybrid"),
                 key=lambda row: sum(row[name]["ndcg@10"] for name in names) / len(names))
    print("chosen:", json.dumps(chosen))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"grid": grid, "dense": dense, "chosen": chosen}, indent=1))


if __name__ == "__main__":
    main()
