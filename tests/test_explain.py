"""`qa explain`: a document's rank and scores in every mode against a brute-force reference, and what hid it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa.assistant import Assistant
from qa.errors import QuestionError
from qa.index import store
from qa.index.build import build_index
from qa.serve.cli import main
from qa.settings import MODES

QUESTION = "Which sea does the Danube end in?"


@pytest.fixture
def assistant(small_corpus: Path, tmp_path: Path, embedder) -> Assistant:
    shutil.copy(small_corpus / "rivers.txt", small_corpus / "rivers-copy.txt")  # the same text twice
    (small_corpus / "seas.txt").write_text("Seas\n\nThe Black Sea and the North Sea are seas of Europe.\n")
    build_index(small_corpus, tmp_path / "index", embedder, progress=False)
    return Assistant.load(tmp_path / "index", embedder=embedder)


def brute_force_ranks(assistant: Assistant, question: str) -> dict[str, list[str]]:
    """Documents by their best chunk's cosine (dense) and BM25 score (lexical), ties by document order."""
    data = store.load(assistant.index_dir, with_vectors=True)
    cosines = np.asarray(data.vectors) @ assistant.embedder.embed([question])[0]
    bm25 = assistant.searcher.lexical.scores(question)
    ranks = {}
    for mode, scores in (("dense", cosines), ("lexical", bm25)):
        best = {d: max(scores[r] for r in np.flatnonzero(data.chunks.doc == d)) for d in range(len(data.documents))}
        kept = [d for d in best if mode == "dense" or best[d] > 0]
        ranks[mode] = [data.documents[d].doc_id for d in sorted(kept, key=lambda d: (-best[d], d))]
    return ranks


@pytest.mark.parametrize("doc", ["seas.txt", "apples.md", "stars.txt"])
def test_ranks_and_scores_match_a_brute_force_reference(assistant: Assistant, doc: str) -> None:
    explanation = assistant.explain(QUESTION, doc, k=2)
    reference = brute_force_ranks(assistant, QUESTION)
    modes = {m.mode: m for m in explanation.modes}
    assert list(modes) == list(MODES)
    for mode in ("dense", "lexical"):
        expected = reference[mode].index(doc) + 1 if doc in reference[mode] else None
        assert modes[mode].rank == expected, mode
        assert modes[mode].ranked == len(reference[mode])
    dense = modes["dense"]
    assert dense.score == pytest.approx(dense.dense_score, abs=1e-3)  # dense mode's score is the cosine
    # what it says about `ask` is what `ask` does
    for mode in MODES:
        shown = [p.doc_id for p in assistant.ask(QUESTION, k=2, mode=mode).passages]
        assert modes[mode].shown(2) == (doc in shown), mode
        if modes[mode].shown(2):
            assert shown.index(doc) + 1 == modes[mode].ask_rank


def test_a_filter_and_the_duplicate_collapsing_are_named(assistant: Assistant) -> None:
    filtered = assistant.explain(QUESTION, "seas.txt", filters={"source": "orchard"})
    assert filtered.filtered_out == "source contains 'orchard'"
    assert all(not m.shown(5) and m.ask_rank is None for m in filtered.modes)
    first = assistant.ask(QUESTION, k=5, mode="lexical").passages[0].doc_id
    second = "rivers-copy.txt" if first == "rivers.txt" else "rivers.txt"
    copy = assistant.explain(QUESTION, second)
    lexical = next(m for m in copy.modes if m.mode == "lexical")
    assert lexical.collapsed_into == first and not lexical.shown(5) and lexical.rank == 2
    assert copy.filtered_out is None


def test_unknown_or_ambiguous_documents_name_the_fix(assistant: Assistant, tmp_path: Path, embedder) -> None:
    with pytest.raises(QuestionError, match="no document 'nope.txt'.*qa status"):
        assistant.explain(QUESTION, "nope.txt")
    corpus = tmp_path / "beir"
    corpus.mkdir()
    (corpus / "c.jsonl").write_text("".join(json.dumps({"_id": i, "title": "T", "text": f"Text {i} here."}) + "\n"
                                            for i in ("a", "b")))
    build_index(corpus, tmp_path / "beir-index", embedder, progress=False)
    collection = Assistant.load(tmp_path / "beir-index", embedder=embedder)
    with pytest.raises(QuestionError, match="c.jsonl holds 2 documents: name one by its id, e.g. --doc 'c.jsonl#a'"):
        collection.explain("text", "c.jsonl")
    assert collection.explain("text", "c.jsonl#b").doc_id == "c.jsonl#b"


def test_cli_explain_text_and_json(assistant: Assistant, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("QA_MODEL", "hashing-64")
    index = str(assistant.index_dir)
    assert main(["explain", QUESTION, "--index", index, "--doc", "seas.txt", "--source", "orchard"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("seas.txt (Seas) for: Which sea") and "removed by the filter" in out
    assert "Filter: leaves it out (source contains 'orchard')." in out
    assert main(["explain", QUESTION, "--index", index, "--doc", "seas.txt", "--json", "-k", "3"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["doc_id"] == "seas.txt" and data["k"] == 3 and [m["mode"] for m in data["modes"]] == list(MODES)
    assert main(["explain", QUESTION, "--index", index, "--doc", "nope"]) == 1
    assert "no document 'nope'" in capsys.readouterr().err
