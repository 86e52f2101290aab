"""BM25: scores against the textbook formula, saved inside each generation, checksummed, kept in step."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from qa.assistant import Assistant
from qa.errors import IndexCorruptError
from qa.index import store
from qa.index.build import build_index
from qa.index.lexical import FOLDER, HEADER, LexicalIndex, analyze, index_files
from qa.settings import LexicalSettings, Settings

TEXTS = [
    "Apples\nApple trees grow best in cool climates. Apples are harvested in autumn.",
    "Rivers\nThe Danube flows through ten countries and ends in the Black Sea.",
    "Stars\nA neutron star is the collapsed core of a massive star; neutron stars spin.",
    "Harvest festivals\nVillages celebrate the harvest with apples, bread and music.",
]


def _reference_bm25(texts: list[str], question: str, k1: float, b: float) -> np.ndarray:
    """Lucene's BM25: idf = ln(1 + (N - df + .5) / (df + .5)), tf part tf / (tf + k1(1 - b + b dl/avgdl)).

    (Lucene dropped the constant (k1 + 1) factor of the textbook form; it does not change rankings.)
    """
    docs = analyze(texts)
    terms = analyze([question])[0]
    avgdl = sum(len(d) for d in docs) / len(docs)
    out = np.zeros(len(docs))
    for i, doc in enumerate(docs):
        for term in terms:
            df = sum(term in d for d in docs)
            tf = doc.count(term)
            if tf == 0:
                continue
            idf = math.log(1 + (len(docs) - df + 0.5) / (df + 0.5))
            out[i] += idf * tf / (tf + k1 * (1 - b + b * len(doc) / avgdl))
    return out


@pytest.mark.parametrize("question", ["apple harvest", "neutron stars spinning", "Which sea does the Danube reach?",
                                      "apples apples"])
@pytest.mark.parametrize(("k1", "b"), [(1.2, 0.75), (0.9, 0.4)])
def test_scores_match_the_formula_after_a_save_load_round_trip(question: str, k1: float, b: float) -> None:
    bm25 = LexicalIndex.from_files(index_files(TEXTS, LexicalSettings(k1=k1, b=b)))
    assert np.allclose(bm25.scores(question), _reference_bm25(TEXTS, question, k1, b), atol=1e-5)


def test_analyzer_stems_and_drops_stop_words() -> None:
    assert analyze(["The apples are harvested"]) == [["appl", "harvest"]]
    bm25 = LexicalIndex.from_files(index_files(TEXTS, LexicalSettings()))
    assert bm25.scores("harvesting").argmax() in (0, 3)


def test_a_question_of_stop_words_or_unknown_words_scores_zero() -> None:
    bm25 = LexicalIndex.from_files(index_files(TEXTS, LexicalSettings()))
    assert not bm25.scores("what is the").any()
    assert not bm25.scores("zyzzyva quokka").any()


def test_empty_or_wordless_chunks_are_indexed_without_error() -> None:
    bm25 = LexicalIndex.from_files(index_files(["", "!!!", "apples"], LexicalSettings()))
    assert bm25.scores("apples").tolist()[:2] == [0.0, 0.0] and bm25.scores("apples")[2] > 0


def test_saved_files_hold_no_pickle() -> None:
    for name, data in index_files(TEXTS, LexicalSettings()).items():
        if name.endswith(".npy"):
            assert b"pickle" not in data[:200] and b"'descr': '|O'" not in data[:200]
        else:
            json.loads(data)


def test_a_build_writes_bm25_into_the_generation_with_checksums(small_corpus: Path, tmp_path: Path,
                                                                embedder) -> None:
    build_index(small_corpus, tmp_path / "index", embedder, progress=False)
    data = store.load(tmp_path / "index")
    names = {name for name in data.manifest.files if name.startswith(f"{FOLDER}/")}
    assert f"{FOLDER}/{HEADER}" in names and any(n.endswith(".npy") for n in names)
    assert data.manifest.search["lexical"]["k1"] == LexicalSettings().k1
    bm25 = LexicalIndex.load(data.path, chunks=len(data.chunks))
    top = int(bm25.scores("Danube Black Sea").argmax())
    assert data.chunk(top).doc_id == "rivers.txt"


def test_a_generation_s_bm25_scores_are_memory_mapped_and_score_as_if_loaded(small_corpus: Path, tmp_path: Path,
                                                                           embedder) -> None:
    build_index(small_corpus, tmp_path / "index", embedder, progress=False)
    gen = store.current_generation(tmp_path / "index")
    chunks = store.load(tmp_path / "index").manifest.counts.chunks
    mapped, loaded = LexicalIndex.load(gen, chunks=chunks), LexicalIndex.load(gen, chunks=chunks, mmap=False)
    assert isinstance(mapped.model.scores["data"], np.memmap)
    assert not isinstance(loaded.model.scores["data"], np.memmap)
    for question in ("Danube Black Sea", "wheat harvest", "nothing matches zyzzyva"):
        assert np.array_equal(mapped.scores(question), loaded.scores(question))


def test_a_damaged_bm25_file_is_refused_with_the_fix(small_corpus: Path, tmp_path: Path, embedder) -> None:
    build_index(small_corpus, tmp_path / "index", embedder, progress=False)
    gen = store.current_generation(tmp_path / "index")
    victim = next((gen / FOLDER).glob("data*.npy"))
    victim.write_bytes(victim.read_bytes()[:-4] + b"\x00\x00\x00\x01")
    with pytest.raises(IndexCorruptError, match="checksum.*qa index --full"):
        Assistant.load(tmp_path / "index", embedder=embedder)


def test_an_index_without_bm25_is_refused_with_the_fix(small_corpus: Path, tmp_path: Path, embedder) -> None:
    build_index(small_corpus, tmp_path / "index", embedder, progress=False)
    gen = store.current_generation(tmp_path / "index")
    with pytest.raises(IndexCorruptError, match="chunk count"):
        LexicalIndex.load(gen, chunks=999)
    (gen / FOLDER / HEADER).unlink()
    with pytest.raises(IndexCorruptError, match="no lexical"):
        LexicalIndex.load(gen, chunks=1)


def test_incremental_builds_keep_bm25_in_step(small_corpus: Path, tmp_path: Path, embedder) -> None:
    index = tmp_path / "index"
    build_index(small_corpus, index, embedder, progress=False)
    (small_corpus / "comets.txt").write_text("Comets\n\nComets have icy nuclei and long glowing tails.")
    (small_corpus / "stars.txt").unlink()
    build_index(small_corpus, index, embedder, progress=False)
    assistant = Assistant.load(index, embedder=embedder)
    assert assistant.ask("icy nuclei", k=1, mode="lexical").passages[0].path == "comets.txt"
    assert all(p.path != "stars.txt" for p in assistant.ask("neutron star", k=5, mode="lexical").passages)


def test_changed_bm25_settings_rewrite_the_generation_without_embedding(small_corpus: Path, tmp_path: Path,
                                                                       embedder) -> None:
    index = tmp_path / "index"
    first = build_index(small_corpus, index, embedder, progress=False)
    embedded = embedder.texts_embedded
    second = build_index(small_corpus, index, embedder, settings=Settings(lexical=LexicalSettings(k1=0.9)),
                         progress=False)
    assert second.generation != first.generation and embedder.texts_embedded == embedded
    assert store.load(index).manifest.search["lexical"]["k1"] == 0.9
