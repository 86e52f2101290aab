"""Property-based tests: any question is answered or refused with QuestionError, never anything else; chunks of any
text fit the real model; every reader survives every truncation of a real file of its format.

Deterministic (``derandomize``) so CI is repeatable; the examples come from the widest strategies that stay fast.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pypdf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.assistant import MAX_QUESTION_CHARS, Assistant
from qa.embed.embedders import HashingEmbedder, SentenceTransformerEmbedder
from qa.errors import QuestionError
from qa.index.build import build_index
from qa.ingest.chunking import chunk_document, embedding_text
from qa.ingest.readers import read_document
from qa.ingest.readers.base import TITLE_MAX_CHARS, first_line
from qa.records import Document
from qa.serve.cli import main
from qa.settings import ChunkSettings
from tests import made_files
from tests.conftest import SEED_CORPUS, SHARED_DATA, write_small_corpus
from tests.test_readers import PAGE, check_invariants, make_docx, make_pdf

PROPERTY = settings(deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# Any code point, surrogates and unassigned ones included, and the characters that trouble text handling most.
ANY_CHAR = st.characters(exclude_categories=())
TRICKY = st.sampled_from(list("\x00\x07\x1b\x7f\u200b\u200e\u202e\ufeff\ufffd\ud800\U0001f389\u0301\n\t\r ?!.") +
                         ["Danube", "apples", "ما", "多瑙河", "🇺🇦", "e\u0301"])
QUESTION = st.one_of(st.text(ANY_CHAR, max_size=60), st.lists(TRICKY, max_size=30).map("".join),
                     st.text(st.sampled_from("ab ?\x00"), min_size=MAX_QUESTION_CHARS - 5,
                             max_size=MAX_QUESTION_CHARS + 5))
K = st.one_of(st.none(), st.integers(-3, 150), st.sampled_from(["", " 3", "x", "1e3", "2.0", "-0"]),
              st.floats(allow_nan=True), st.booleans())


@pytest.fixture(scope="module")
def index(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("properties")
    build_index(write_small_corpus(root / "corpus"), root / "index", HashingEmbedder(64), progress=False)
    return root / "index"


@PROPERTY
@given(question=QUESTION, k=K, mode=st.sampled_from([None, "dense", "lexical", "hybrid"]))
def test_any_question_is_answered_or_refused(index: Path, question: str, k, mode) -> None:
    assistant = Assistant.load(index, embedder=HashingEmbedder(64))
    try:
        result = assistant.ask(question, k=k, mode=mode)
    except QuestionError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert len(result.passages) <= (5 if k is None else int(str(k).strip()))
    assert result.passages or mode == "lexical"  # BM25 finds nothing for a question with no known word
    assert [p.rank for p in result.passages] == list(range(1, len(result.passages) + 1))
    assert result.generation and len(result.question) <= MAX_QUESTION_CHARS
    json.dumps(result.to_dict(), ensure_ascii=False).encode("utf-8")  # the JSON contract can be sent anywhere


@settings(PROPERTY, max_examples=25)
@given(question=QUESTION.filter(lambda q: "\x00" not in q))  # argv cannot carry NUL
def test_any_question_through_the_command_exits_0_or_1(index: Path, question: str, capsys, monkeypatch) -> None:
    monkeypatch.setenv("QA_MODEL", "hashing-64")
    status = main(["ask", question, "--index", str(index), "-k", "2"])
    out, err = capsys.readouterr()
    assert (status, err == "") == (0, True) or (status == 1 and err.startswith("qa: error: ")
                                                and err.count("\n") == 1)


@pytest.mark.slow
@settings(PROPERTY, max_examples=12)
@given(question=QUESTION)
def test_any_accepted_question_embeds_with_the_real_model(real_tokenizer, question: str) -> None:
    """What check_question lets through, the real model embeds to a finite unit vector (no tokenizer surprise)."""
    import numpy as np

    from qa.assistant import check_question

    try:
        cleaned = check_question(question)
    except QuestionError:
        return
    vector = real_tokenizer.embed([cleaned])[0]
    assert np.isfinite(vector).all() and abs(float(vector @ vector) - 1) < 1e-3


# --- chunks fit the real model for any text ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_tokenizer() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder()  # loaded lazily: the chunk test uses only its tokenizer, no torch


WORDS = st.sampled_from(["the", "Danube", "unbelievably", "S-300", "2024", "Kharkiv", "naïve", "多瑙河", "🎉",
                         "e\u0301", "\u200b", "...", "?", "(", "“", "\n", "\n\n", "# Heading\n", "  ", "\t"])
TEXT = st.one_of(st.lists(WORDS, max_size=600).map(" ".join), st.text(ANY_CHAR.filter(lambda c: not
                                                                               0xD800 <= ord(c) <= 0xDFFF),
                                                                     max_size=1500))


@settings(PROPERTY, max_examples=60)
@given(text=TEXT, title=st.text(max_size=300), max_tokens=st.sampled_from([16, 64, 200]))
def test_chunks_of_any_text_fit_the_real_model(real_tokenizer, text: str, title: str, max_tokens: int) -> None:
    chunk_settings = ChunkSettings(max_tokens=max_tokens, overlap_tokens=max_tokens // 4)
    sections = tuple((i, "h") for i in range(len(text)) if text.startswith("# ", i) and (i == 0 or text[i - 1] == "\n"))
    document = Document("d", "d.txt", text, title or "untitled", sections=sections)
    chunks = chunk_document(document, real_tokenizer.token_spans, chunk_settings)
    covered = set()
    for chunk in chunks:
        assert chunk.text == text[chunk.start:chunk.end] and chunk.text.strip()
        assert len(real_tokenizer.token_spans(chunk.text)) <= max_tokens
        model_input = embedding_text(document, chunk, real_tokenizer.token_spans, chunk_settings)
        assert len(real_tokenizer.token_spans(model_input)) + 2 <= real_tokenizer.max_tokens  # never truncated
        assert chunk.section == document.section_at(chunk.start)
        covered.update(range(chunk.start, chunk.end))
    # every character the model reads as a token is in some chunk: nothing is silently left out
    assert all(start in covered for start, _ in real_tokenizer.token_spans(text))


# --- every reader, every truncation of a real file ---------------------------------------------------------------


def compressed_pdf() -> bytes:
    """A multi-page PDF rewritten by pypdf's writer: compressed content streams, as real producers write them."""
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(make_pdf(
        [["Page one about the Danube."], ["Page two about apples."], ["Page three."]],
        info={"/Title": "Rivers", "/Author": "Orchard Weekly"}))))
    for page in writer.pages:
        page.compress_content_streams()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def real_files() -> dict[str, bytes]:
    files = {f"seed-{p.name}": p.read_bytes() for p in sorted(SEED_CORPUS.glob("*.md"))}
    scifact = SHARED_DATA / "scifact" / "corpus.jsonl"
    if scifact.is_file():
        with scifact.open("rb") as handle:
            files["scifact.jsonl"] = b"".join(handle.readline() for _ in range(5))
    files |= {
        "compressed.pdf": compressed_pdf(),
        "word.docx": make_docx(),
        "page.html": PAGE,
        "utf16.txt": "Café crème\r\nThe glacier café in Zürich.\r\n".encode("utf-16"),
        "legacy.txt": "Ça va? Très bien. Où est la gare? Ünïcödé.".encode("cp1252"),
        "figures.csv": made_files.CSV,
        "figures.xlsx": made_files.make_xlsx(),
        "briefing.pptx": made_files.make_pptx(),
        "repairs.eml": made_files.make_eml(),
        "inbox.mbox": made_files.make_mbox(),
    }
    return files


REAL = real_files()


@pytest.mark.parametrize("name", sorted(REAL))
def test_every_truncation_of_a_real_file_is_read_or_refused(name: str) -> None:
    """Cut at 48 evenly spaced points and the last 8 bytes: documents that keep the invariants, or a reason."""
    data = REAL[name]
    cuts = sorted({len(data) * i // 48 for i in range(48)} | {len(data) - i for i in range(1, 9)})
    outcomes = set()
    for cut in cuts:
        try:
            result = read_document(Path(name), name, data[:cut])
        except Exception as exc:
            assert type(exc).__name__ == "UnreadableDocument" and str(exc), (name, cut, exc)
            outcomes.add("refused")
            continue
        for doc in result.documents:
            check_invariants(doc)
        outcomes.add("read")
    assert "refused" in outcomes  # at least the empty cut
    assert read_document(Path(name), name, data).documents  # and the whole file reads


LINE_TEXT = st.text(alphabet=st.sampled_from(list("ab \t\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029\u00a0é")), max_size=40)


@PROPERTY
@given(LINE_TEXT)
def test_first_line_cuts_lines_as_splitlines_does(text: str) -> None:
    """The lazy title finder against the obvious one: every line boundary Python knows, whitespace-only lines."""
    reference = next((line.strip()[:TITLE_MAX_CHARS] for line in text.splitlines() if line.strip()), "")
    assert first_line(text) == reference
