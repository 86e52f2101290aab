from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.errors import SettingsError
from qa.ingest.chunking import chunk_document, embedding_text
from qa.records import Document
from qa.settings import ChunkSettings
from qa.text import simple_token_spans, split_sentences

SMALL = ChunkSettings(max_tokens=20, overlap_tokens=8, title_tokens=5)


def doc(text: str, title: str = "T", sections: tuple[tuple[int, str], ...] = ()) -> Document:
    return Document(doc_id="d", path="d.txt", text=text, title=title, sections=sections)


def check_invariants(document: Document, chunks, settings: ChunkSettings) -> None:
    for i, chunk in enumerate(chunks):
        assert chunk.text == document.text[chunk.start:chunk.end]
        assert chunk.text == chunk.text.strip() and chunk.text
        assert len(simple_token_spans(chunk.text)) <= settings.max_tokens
        assert chunk.index == i and chunk.chunk_id == f"d::{i}"
    starts = [c.start for c in chunks]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)


def test_short_document_is_one_chunk() -> None:
    text = "One sentence. Another one here."
    chunks = chunk_document(doc(text), simple_token_spans, SMALL)
    assert [(c.start, c.end, c.text) for c in chunks] == [(0, len(text), text)]


def test_sentences_are_packed_within_limit_with_overlap() -> None:
    text = " ".join(f"Sentence number {i} has six tokens." for i in range(12))
    chunks = chunk_document(doc(text), simple_token_spans, SMALL)
    check_invariants(doc(text), chunks, SMALL)
    assert len(chunks) > 3
    # neighbours share the last sentence (7 tokens fit the overlap of 8)
    for left, right in zip(chunks, chunks[1:], strict=False):
        assert right.start < left.end
        assert document_slice(text, right.start, left.end).endswith("tokens.")
    # every sentence is inside some chunk
    for start, end in split_sentences(text):
        assert any(c.start <= start and end <= c.end for c in chunks)


def document_slice(text: str, start: int, end: int) -> str:
    return text[start:end]


def test_overlong_sentence_is_cut_at_word_boundaries() -> None:
    text = " ".join(f"word{i}" for i in range(55))
    chunks = chunk_document(doc(text), simple_token_spans, SMALL)
    check_invariants(doc(text), chunks, SMALL)
    assert [len(simple_token_spans(c.text)) for c in chunks] == [20, 20, 15]
    assert all(not text[c.start - 1].isalnum() for c in chunks if c.start > 0)


def test_heading_starts_new_chunk_and_is_recorded() -> None:
    text = "# Intro\nShort intro.\n# Method\nWe measured things."
    method = text.index("# Method")
    document = doc(text, sections=((0, "Intro"), (method, "Method")))
    chunks = chunk_document(document, simple_token_spans, ChunkSettings(max_tokens=50, overlap_tokens=0))
    assert [c.section for c in chunks] == ["Intro", "Method"]
    assert chunks[1].start == method


def test_pages_are_recorded() -> None:
    text = "Page one text.\n\nPage two text."
    document = Document("d", "d.pdf", text, "T", pages=(0, text.index("Page two")))
    chunks = chunk_document(document, simple_token_spans, ChunkSettings(max_tokens=16, overlap_tokens=0))
    assert chunks[0].page == 1
    assert document.page_at(text.index("two")) == 2


def test_unicode_and_footnotes() -> None:
    text = "Kremlin said “order.”[1] Russian forces moved. Émigrés 🎉 returned! Then? Yes."
    chunks = chunk_document(doc(text), simple_token_spans, ChunkSettings(max_tokens=16, overlap_tokens=0))
    check_invariants(doc(text), chunks, ChunkSettings(max_tokens=16, overlap_tokens=0))
    assert "“order.”[1]" in chunks[0].text


def test_empty_and_whitespace_documents_give_no_chunks() -> None:
    assert chunk_document(doc("   \n\n "), simple_token_spans, SMALL) == []


def test_embedding_text_prepends_title_within_budget() -> None:
    document = doc("Body text.", title="A very long title with many many words in it")
    chunk = chunk_document(document, simple_token_spans, SMALL)[0]
    text = embedding_text(document, chunk, simple_token_spans, SMALL)
    assert text == "A very long title with\nBody text."
    assert embedding_text(doc("T starts here."), chunk_document(doc("T starts here."), simple_token_spans, SMALL)[0],
                          simple_token_spans, SMALL) == "T starts here."


def test_settings_are_checked() -> None:
    with pytest.raises(SettingsError, match="overlap_tokens"):
        ChunkSettings(max_tokens=100, overlap_tokens=60)
    with pytest.raises(SettingsError, match="model reads at most 256"):
        ChunkSettings(max_tokens=240, title_tokens=40).check_fits(256)


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from(list("ab .!?\n\t”[1]éZ9🎉")), max_size=400),
    max_tokens=st.integers(16, 40),
    overlap=st.integers(0, 7),
)
def test_chunk_invariants_hold_for_any_text(text: str, max_tokens: int, overlap: int) -> None:
    settings_ = ChunkSettings(max_tokens=max_tokens, overlap_tokens=overlap)
    document = doc(text)
    chunks = chunk_document(document, simple_token_spans, settings_)
    check_invariants(document, chunks, settings_)
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())
