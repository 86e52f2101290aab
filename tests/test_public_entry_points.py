"""The public functions the benchmarks call instead of rebuilding library internals: each agrees with what the
library itself does (the texts a build embeds, the passages ``ask`` returns, the files a generation holds)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from qa.answer.selection import pick_answer
from qa.assistant import Assistant, document_passage
from qa.embed.cache import EmbeddingCache, text_key
from qa.evaluation.evaluate import read_qrels
from qa.evaluation.metrics import percentiles
from qa.index import calibration, lexical, store, vector_index
from qa.index.build import build_index
from qa.ingest import readers
from qa.ingest.chunking import chunk_document, chunks_to_embed
from qa.search.searcher import Searcher, return_freed_memory
from qa.settings import DEFAULT, LexicalSettings, RetrievalSettings

TEXTS = ["Apples\nApple trees grow in cool climates.", "Rivers\nThe Danube flows to the Black Sea.",
         "Stars\nNeutron stars spin quickly.", "", "Apples\nApple trees grow in cool climates."]


def _documents(corpus: Path) -> list:
    files, _ = readers.list_corpus_files(corpus)
    return [d for path, rel in files for d in readers.read_document(path, rel, path.read_bytes()).documents]


def test_chunks_to_embed_are_the_texts_a_build_embeds(small_corpus: Path, tmp_path: Path, embedder) -> None:
    report = build_index(small_corpus, tmp_path / "index", embedder, progress=False)
    docs = _documents(small_corpus)
    pairs = [pair for doc in docs for pair in chunks_to_embed(doc, embedder.token_spans, DEFAULT.chunk)]
    assert [c for c, _ in pairs] == [c for d in docs for c in chunk_document(d, embedder.token_spans, DEFAULT.chunk)]
    texts = [text for _, text in pairs]
    assert len(texts) == report.chunks and report.chunks_embedded == len(set(texts))
    cache = EmbeddingCache(tmp_path / "index" / "cache" / "embeddings.sqlite", embedder.fingerprint, embedder.dim)
    try:
        assert set(cache.get_many([text_key(t) for t in texts])) == {text_key(t) for t in texts}
    finally:
        cache.close()


def test_passage_is_what_ask_returns(small_corpus: Path, tmp_path: Path, embedder) -> None:
    build_index(small_corpus, tmp_path / "index", embedder, progress=False)
    assistant = Assistant.load(tmp_path / "index", embedder=embedder)
    question = "Where does the Danube end?"
    result = assistant.ask(question, k=3, mode="hybrid", answer=False)
    hits = assistant.searcher.search(question, embedder.embed([question])[0], 3, mode="hybrid",
                                     settings=RetrievalSettings())
    assert result.passages == tuple(Assistant.passage(assistant.data, hit, rank) for rank, hit in enumerate(hits, 1))


def test_document_passage_spans_the_whole_document(small_corpus: Path) -> None:
    doc = next(d for d in _documents(small_corpus) if d.doc_id == "rivers.txt")
    passage = document_passage(doc)
    assert (passage.rank, passage.score, passage.start, passage.end) == (1, 1.0, 0, len(doc.text))
    assert passage.text == doc.text and passage.doc_id == passage.chunk_id == doc.doc_id
    found, _ = pick_answer("Which countries does the Danube flow through?", [passage])
    assert found is not None and found.text == doc.text[found.start:found.end] and "ten countries" in found.text


def test_generation_dir_and_read_documents(small_corpus: Path, tmp_path: Path, embedder) -> None:
    index = tmp_path / "index"
    report = build_index(small_corpus, index, embedder, progress=False)
    gen = store.generation_dir(index, report.generation)
    assert gen == store.current_generation(index) and gen.is_dir()
    assert store.read_documents(gen) == store.load(index).documents
    return_freed_memory()  # nothing to check but that it runs anywhere: a no-op where libc has no malloc_trim


@pytest.mark.parametrize("rows", [5, 11, 15])
def test_repeated_index_files_score_as_the_repeated_corpus(rows: int) -> None:
    settings = LexicalSettings()
    repeated = lexical.LexicalIndex.from_files(lexical.repeated_index_files(TEXTS, rows, settings))
    spelled_out = lexical.LexicalIndex.from_files(lexical.index_files([TEXTS[r % 5] for r in range(rows)], settings))
    for question in ("apple trees", "Which sea does the Danube reach?", "neutron", "nothing matches"):
        assert np.allclose(repeated.scores(question), spelled_out.scores(question), atol=1e-6)
    assert repeated.score_array_bytes() == spelled_out.score_array_bytes() > 0


def test_write_from_arrays_gives_a_loadable_searchable_generation(small_corpus: Path, tmp_path: Path,
                                                                  embedder) -> None:
    build_index(small_corpus, tmp_path / "index", embedder, progress=False)
    data = store.load(tmp_path / "index", with_vectors=True)
    documents = [replace(d, doc_id=f"{d.doc_id}~{c}") for c in range(2) for d in data.documents]
    chunks = store.ChunkTable(np.concatenate([data.chunks.doc, data.chunks.doc + len(data.documents)]),
                              np.tile(data.chunks.start, 2), np.tile(data.chunks.end, 2))
    vectors = np.concatenate([data.vectors, data.vectors])
    spec = vector_index.choose_spec(len(vectors), "auto")
    texts = [lexical.lexical_text(data.documents[d], s, e)
             for d, s, e in zip(data.chunks.doc, data.chunks.start, data.chunks.end, strict=True)]
    files = lexical.repeated_index_files(texts, len(chunks), DEFAULT.lexical) | calibration.index_files(vectors)
    store.write_from_arrays(tmp_path / "big", data, documents=documents, chunks=chunks, vectors=vectors,
                            faiss_index=vector_index.build(vectors, spec), spec=spec, requested="auto",
                            extra_files=files)
    big = Searcher.load(tmp_path / "big")
    assert big.data.manifest.counts.to_dict() == {"documents": 2 * len(data.documents), "chunks": len(chunks),
                                                  "problems": 0}
    assert big.data.manifest.model == data.manifest.model and big.data.manifest.file_sha256 == {}
    question = "Where does the Danube end?"
    hits = big.search(question, embedder.embed([question])[0], 2, mode="hybrid", settings=RetrievalSettings())
    first = big.data.documents[big.data.chunks.doc[hits[0].row]].doc_id
    copies = {first, *(big.data.documents[d].doc_id for d in hits[0].also_in)}  # the two copies: collapsed
    assert copies == {"rivers.txt~0", "rivers.txt~1"}
    with pytest.raises(ValueError, match="one vector per chunk row"):
        store.write_from_arrays(tmp_path / "bad", data, documents=documents, chunks=chunks, vectors=vectors[:-1],
                                faiss_index=vector_index.build(vectors, spec), spec=spec, requested="auto",
                                extra_files=files)


def test_read_qrels_skips_the_header_and_keeps_scores(tmp_path: Path) -> None:
    path = tmp_path / "qrels.tsv"
    path.write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t2\n\nq2\t0\td3\t0\n")
    assert read_qrels(path) == {"q1": {"d1": 1, "d2": 2}, "q2": {"d3": 0}}


def test_percentiles_round_to_the_places_asked() -> None:
    values = np.array([1.0, 2.0, 3.0, 4.0, 100.0001])
    assert percentiles(values) == {"p50": 3.0, "p95": 80.8}
    assert percentiles(values, places=4) == {"p50": 3.0, "p95": 80.8001}
    assert percentiles(np.array([])) == {"p50": 0.0, "p95": 0.0}
