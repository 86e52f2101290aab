"""Modes, one passage per document, republished text collapsed, and filters that still return k results."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.assistant import Assistant
from qa.errors import QuestionError
from qa.index.build import build_index
from qa.records import Document
from qa.search.filters import Filters, date_period
from qa.settings import ChunkSettings, RetrievalSettings, Settings

SMALL_CHUNKS = Settings(chunk=ChunkSettings(max_tokens=24, overlap_tokens=0, title_tokens=8))


def _md(title: str, publisher: str | None, date: str | None, body: str) -> str:
    meta = [f"title: {title}"] + [f"publisher: {publisher}"] * bool(publisher) + [f"date: {date}"] * bool(date)
    return "---\n" + "\n".join(meta) + "\n---\n" + body + "\n"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A long document about glaciers, a reprint of a short one, and 24 dated reports from three publishers."""
    root = tmp_path / "corpus"
    (root / "reports").mkdir(parents=True)
    long_body = " ".join(f"Glaciers retreat in valley number {i} as the ice melts each summer." for i in range(40))
    (root / "long.md").write_text(_md("Glacier survey", "Ice Institute", "2020-06-01", long_body))
    story = ("Glaciers in the Alps lost a tenth of their ice in two summers. Scientists measured the melt "
             "with drones and stakes driven into the ice across forty valleys.")
    (root / "original.md").write_text(_md("Alpine melt", "Mountain Times", "2023-09-01", story))
    (root / "reprint.md").write_text(_md("Alps glaciers shrink fast", "Daily Digest", "2023-09-03",
                                         story.replace("forty", "40")))
    publishers = ["North Desk", "South Desk", "East Desk"]
    for i in range(24):
        (root / "reports" / f"r{i:02d}.md").write_text(_md(
            f"Report {i}", publishers[i % 3], f"{2000 + i}-01-15",
            f"Harvest report {i}: farmers brought in wheat and barley; rain fell {i} times. Glaciers were not seen."))
    (root / "undated.txt").write_text("Undated note\n\nWheat and barley harvest notes without a date.")
    return root


@pytest.fixture
def assistant(corpus: Path, tmp_path: Path, embedder) -> Assistant:
    build_index(corpus, tmp_path / "index", embedder, settings=SMALL_CHUNKS, progress=False)
    return Assistant.load(tmp_path / "index", embedder=embedder, settings=SMALL_CHUNKS)


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_every_mode_gives_one_passage_per_document(assistant: Assistant, mode: str) -> None:
    assert assistant.data.manifest.counts.chunks > 40  # the long document has many chunks
    result = assistant.ask("glaciers retreat as the ice melts in the valley", k=5, mode=mode)
    paths = [p.path for p in result.passages]
    assert result.mode == mode and len(paths) == 5 and len(set(paths)) == 5
    assert paths[0] == "long.md"
    assert [p.rank for p in result.passages] == [1, 2, 3, 4, 5]
    assert all(a.score >= b.score for a, b in zip(result.passages, result.passages[1:], strict=False))


def test_chunks_can_be_returned_ungrouped(corpus: Path, tmp_path: Path, embedder) -> None:
    settings = Settings(chunk=SMALL_CHUNKS.chunk, retrieval=RetrievalSettings(group_documents=False))
    build_index(corpus, tmp_path / "index", embedder, settings=settings, progress=False)
    result = Assistant.load(tmp_path / "index", embedder=embedder, settings=settings).ask(
        "glaciers retreat valley ice melts summer", k=4, mode="lexical")
    assert [p.path for p in result.passages] == ["long.md"] * 4


def test_republished_text_is_collapsed_and_remembered(assistant: Assistant) -> None:
    result = assistant.ask("How much ice did Alpine glaciers lose, measured with drones?", k=5, mode="hybrid")
    hits = [p for p in result.passages if p.path in ("original.md", "reprint.md")]
    assert len(hits) == 1, [p.path for p in result.passages]
    other = "Alps glaciers shrink fast · Daily Digest · 2023-09-03" if hits[0].path == "original.md" else \
        "Alpine melt · Mountain Times · 2023-09-01"
    assert hits[0].also_in == (other,)
    assert hits[0].to_dict()["also_in"] == [other]
    assert len(result.passages) == 5  # the collapsed copy did not cost a result


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_filters_still_return_k_results(corpus: Path, tmp_path: Path, embedder, mode: str) -> None:
    # A shallow first search depth makes the filtered documents fall outside it: the depth must grow.
    settings = Settings(chunk=SMALL_CHUNKS.chunk, retrieval=RetrievalSettings(depth=2))
    build_index(corpus, tmp_path / "index", embedder, settings=settings, progress=False)
    assistant = Assistant.load(tmp_path / "index", embedder=embedder, settings=settings)
    result = assistant.ask("glaciers ice melt harvest wheat", k=8, mode=mode, filters={"source": "east desk"})
    assert len(result.passages) == 8 and {p.publisher for p in result.passages} == {"East Desk"}


def test_date_and_path_filters(assistant: Assistant) -> None:
    result = assistant.ask("wheat barley harvest", k=10, mode="hybrid",
                           filters=Filters(date_from="2010-01", date_to="2012"))
    assert sorted(p.date for p in result.passages) == ["2010-01-15", "2011-01-15", "2012-01-15"]
    result = assistant.ask("wheat barley harvest", k=30, mode="dense", filters={"path": "reports/r1*.md"})
    assert sorted(p.path for p in result.passages) == [f"reports/r1{i}.md" for i in range(10)]
    result = assistant.ask("wheat barley harvest", k=30, mode="lexical", filters={"path": "reports"})
    assert len(result.passages) == 24
    unfiltered = assistant.ask("wheat barley harvest notes", k=30, mode="lexical")
    assert "undated.txt" in {p.path for p in unfiltered.passages}
    dated = assistant.ask("wheat barley harvest notes", k=30, mode="lexical", filters={"date_from": "1900"})
    assert "undated.txt" not in {p.path for p in dated.passages}


def test_a_filter_matching_nothing_gives_no_passages(assistant: Assistant) -> None:
    assert assistant.ask("glaciers", k=5, filters={"source": "no such publisher"}).passages == ()


@pytest.mark.parametrize(("filters", "message"), [
    ({"date_from": "last week"}, "not an ISO date"),
    ({"date_to": "2024-13-01"}, "not an ISO date"),
    ({"date_from": "2024", "date_to": "2023"}, "swap them"),
    ({"author": "x"}, "unknown filter 'author'"),
    ({"source": 3}, "must be text"),
])
def test_bad_filters_are_refused(assistant: Assistant, filters: dict, message: str) -> None:
    with pytest.raises(QuestionError, match=message):
        assistant.ask("glaciers", filters=filters)


def test_bad_mode_is_refused(assistant: Assistant) -> None:
    with pytest.raises(QuestionError, match="unknown: use one of dense, lexical, hybrid"):
        assistant.ask("glaciers", mode="semantic")


def test_date_periods_and_matching() -> None:
    assert date_period("2024-02") == (date_period("2024-02-01")[0], date_period("2024-02-29")[0])
    assert date_period("November 2024") is None and date_period("2024-02-30") is None
    doc = Document("a.md", "a.md", "x", "Title", "Wilson Center", "2024-11")
    assert Filters(date_from="2024-11-30").matches(doc) and not Filters(date_from="2024-12").matches(doc)
    assert Filters(source="WILSON").matches(doc) and Filters(source="title · wilson").matches(doc)
    assert not Filters().active and Filters(path=" ").path is None


def test_collapse_compares_with_whole_kept_documents_never_its_own() -> None:
    from qa.search.grouping import collapse_duplicates, fingerprint

    docs = {
        0: "Alpha beta gamma delta epsilon zeta eta theta. Iota kappa lambda mu nu xi omicron pi rho.",
        1: "Iota kappa lambda mu nu xi omicron pi rho.",  # republishes the second half of document 0
        2: "Alpha beta gamma delta epsilon and then something else entirely different here.",
    }
    prints = {d: fingerprint(t) for d, t in docs.items()}
    candidates = [(key, doc, fingerprint(text)) for key, doc, text in
                  [(10, 0, docs[0][:44]), (11, 1, docs[1]), (12, 2, docs[2]), (13, 0, docs[0][44:])]]
    assert collapse_duplicates(candidates, prints.__getitem__, 0.8, k=5) == [(10, [1]), (12, []), (13, [])]
    # the k-th result is kept; a copy ranked right after it is still remembered
    assert collapse_duplicates(candidates, prints.__getitem__, 0.8, k=1) == [(10, [1])]


def test_calibrated_hybrid_scores_match_brute_force(assistant: Assistant) -> None:
    """Hybrid score of a document = its best chunk's w * z(dense) + (1 - w) * z(BM25), z over every chunk."""
    import numpy as np

    from qa.index import store

    data = store.load(assistant.index_dir, with_vectors=True)
    question = "wheat barley harvest glaciers"
    w = assistant.settings.retrieval.dense_weight
    # the cosines as the index computes them: from its fp16 copy of each vector (qa.index.vector_index)
    dense = np.asarray(data.vectors).astype(np.float16).astype(np.float32) @ assistant.embedder.embed([question])[0]
    bm25 = assistant.searcher.lexical.scores(question).astype(float)
    fused = w * (dense - dense.mean()) / dense.std() + (1 - w) * (bm25 - bm25.mean()) / bm25.std()
    best: dict[str, float] = {}
    for row, value in enumerate(fused.tolist()):
        doc = data.documents[data.chunks.doc[row]].doc_id
        best[doc] = max(best.get(doc, -np.inf), value)
    want = sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    # depth beyond the chunk count: every chunk is a candidate of both runs, so nothing is approximated
    settings = Settings(chunk=SMALL_CHUNKS.chunk, retrieval=RetrievalSettings(depth=10_000))
    got = Assistant(assistant.searcher, assistant.embedder, assistant.index_dir, settings).ask(question, k=10,
                                                                                                 mode="hybrid")
    assert [p.doc_id for p in got.passages] == [doc for doc, _ in want]
    # the corpus statistics behind the dense z-scores come from the fp32 vectors: within fp16 rounding (~1e-4)
    assert np.allclose([p.score for p in got.passages], [score for _, score in want], atol=1e-3)


def test_search_files_are_checksummed_and_required(assistant: Assistant) -> None:
    from qa.errors import IndexCorruptError
    from qa.index import calibration, store
    from qa.search.searcher import Searcher

    data = store.load(assistant.index_dir)
    assert calibration.FILE in data.manifest.files
    (data.path / calibration.FILE).unlink()
    with pytest.raises(IndexCorruptError, match="qa index --full"):
        Searcher.load(assistant.index_dir)


def test_sketch_pruning_agrees_with_exact_containment_on_long_texts() -> None:
    """Copies with a few words changed collapse, texts sharing under half their words do not, and the sketch
    shortcut gives exactly what checking every kept document in full gives."""
    import random

    from qa.search.grouping import collapse_duplicates, containment, fingerprint

    rng = random.Random(7)
    vocab = [f"w{i}" for i in range(800)]
    originals = [[rng.choice(vocab) for _ in range(300)] for _ in range(12)]
    docs = {i: " ".join(words) for i, words in enumerate(originals)}
    for i in range(12, 24):  # a copy with 1 word in 60 changed, or a text sharing its first 40% with another
        source = list(originals[i - 12])
        if i % 2:
            source = [rng.choice(vocab) if rng.random() < 1 / 60 else w for w in source]
        else:
            source = source[:120] + [rng.choice(vocab) for _ in range(180)]
        docs[i] = " ".join(source)
    prints = {d: fingerprint(t) for d, t in docs.items()}
    order = list(docs)
    rng.shuffle(order)
    candidates = [(d, d, prints[d]) for d in order]

    def brute(k: int) -> list[tuple[int, list[int]]]:
        kept: list[tuple[int, list[int]]] = []
        for key, group, fp in candidates:
            match = next((entry for entry in kept if containment(fp.shingles, prints[entry[0]].shingles) >= 0.8),
                         None)
            if match:
                match[1].append(group)
            elif len(kept) < k:
                kept.append((key, []))
            else:
                break
        return kept

    for k in (3, 10, 30):
        assert collapse_duplicates(candidates, prints.__getitem__, 0.8, k) == brute(k)
    collapsed = {d for _, dupes in collapse_duplicates(candidates, prints.__getitem__, 0.8, 30) for d in dupes}
    pairs = {frozenset((i, i - 12)) for i in range(13, 24, 2)}
    assert all(len(prints[d].sketch) >= 8 for d in docs)  # the sketch path, not the short-text path
    assert {d for pair in pairs for d in pair} >= collapsed and len(collapsed) == 6


def test_document_fingerprints_stay_within_their_byte_budget(assistant: Assistant, monkeypatch) -> None:
    """The searcher keeps the fingerprints of documents it has shown, never more bytes than its budget, and a
    small budget changes no result (a print dropped is made again when needed)."""
    from qa.search import searcher

    questions = ["glaciers retreat as the ice melts", "Alps glaciers lost ice", "wheat and barley harvest",
                 "rain fell times", "drones and stakes in forty valleys"]
    want = [[(p.doc_id, p.also_in) for p in assistant.ask(q, k=8, mode="hybrid").passages] for q in questions]
    assert 0 < assistant.searcher.print_cache.currsize <= searcher.PRINT_CACHE_BYTES
    monkeypatch.setattr(searcher, "PRINT_CACHE_BYTES", 600)
    small = Assistant(searcher.Searcher.load(assistant.index_dir), assistant.embedder, assistant.index_dir,
                      assistant.settings)
    for question, expected in zip(questions, want, strict=True):
        assert [(p.doc_id, p.also_in) for p in small.ask(question, k=8, mode="hybrid").passages] == expected
        assert 0 < small.searcher.print_cache.currsize <= 600
    assert any(also for row in want for _, also in row)  # the collapse ran on these questions


def test_copies_of_one_text_share_one_fingerprint(tmp_path: Path, embedder) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    story = "Wire story\n\nFloods closed the northern railway line after three days of heavy rain in the hills."
    for name in "abcdef":
        (corpus / f"{name}.txt").write_text(story)
    (corpus / "other.txt").write_text("Other news\n\nThe harvest festival drew large crowds to the old market.")
    build_index(corpus, tmp_path / "index", embedder, progress=False)
    assistant = Assistant.load(tmp_path / "index", embedder=embedder)
    result = assistant.ask("floods closed the railway after heavy rain", k=2, mode="lexical")
    assert [p.path for p in result.passages][:1] == ["a.txt"] and len(result.passages[0].also_in) == 5
    for name in "bcdef":  # each copy shown on its own
        alone = assistant.ask("floods closed the railway", k=1, mode="lexical", filters={"path": f"{name}.txt"})
        assert [p.path for p in alone.passages] == [f"{name}.txt"]
    assert len(assistant.searcher.print_cache) <= 2  # the six copies' one text, and at most the other document


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_a_pdf_passage_names_the_page_it_comes_from(mode: str, tmp_path: Path, embedder) -> None:
    """The README promises page numbers: a passage from page 2 or 3 of a PDF says so, in its JSON too."""
    from tests.test_readers import make_pdf

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    filler = ["Every page of these notes opens with the same long line of words about the field trip.",
              "The second line of each page repeats what the walkers saw that morning on the way."]
    pages = [[*filler, "Glaciers carve valleys in the Alps."], [*filler, "Volcanoes on Iceland erupt basalt lava."],
             [*filler, "Coral reefs grow in warm shallow seas."]]  # longer than a chunk: the last line starts one
    (corpus / "nature.pdf").write_bytes(make_pdf(pages, {"/Title": "Nature notes"}))
    (corpus / "other.txt").write_text("Other\n\nBread is baked from flour, water and yeast.")
    build_index(corpus, tmp_path / "index", embedder, progress=False,
                settings=SMALL_CHUNKS)
    assistant = Assistant.load(tmp_path / "index", embedder=embedder)
    for question, page, words in (("Iceland volcanoes basalt lava", 2, "basalt"),
                                  ("coral reefs warm shallow seas", 3, "Coral")):
        top = assistant.ask(question, k=1, mode=mode).passages[0]
        assert (top.path, top.page) == ("nature.pdf", page) and words in top.text, top
        assert top.to_dict()["page"] == page
