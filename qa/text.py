"""Text helpers every stage shares: sentence spans, a stand-in tokenizer and the English stemmer.

Chunking cuts documents at these sentences, answer selection picks among them, the fake embedder counts tokens with
``simple_token_spans``, and BM25 and the answer cues stem with the same Snowball stemmer, so both sides of the index
agree on what a word is. Pure functions on strings and offsets, no I/O.

    >>> text = "Kyiv said so. Then [3] more\\nA heading"
    >>> [text[s:e] for s, e in split_sentences(text)]
    ['Kyiv said so.', 'Then [3] more', 'A heading']
    >>> stemmer().stemWord("displaced")
    'displac'
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from typing import Any

TokenSpans = Callable[[str], Sequence[tuple[int, int]]]

# A sentence ends at . ! ? (plus closing quotes/brackets) before whitespace and a capital, digit or quote,
# or at any line break: headings, bullets and paragraphs stay separate sentences.
# Footnote marks such as "[12]" stay with their sentence.
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*(?:\[\d+\])*\s+(?=[A-Z0-9\"“‘'(\[])|\n+")
_SIMPLE_TOKEN = re.compile(r"\w+|[^\w\s]")


def simple_token_spans(text: str) -> list[tuple[int, int]]:
    """A stand-in tokenizer (words and punctuation) for tests and the fake embedder."""
    return [m.span() for m in _SIMPLE_TOKEN.finditer(text)]


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans in ``text[start:end]``, whitespace trimmed, empty ones dropped."""
    end = len(text) if end is None else end
    spans = []
    pos = start
    for match in _SENTENCE_END.finditer(text, start, end):
        spans.append((pos, match.end()))
        pos = match.end()
    spans.append((pos, end))
    return [trimmed for s, e in spans if (trimmed := trim_span(text, s, e))]


def trim_span(text: str, start: int, end: int) -> tuple[int, int] | None:
    """``(start, end)`` without leading and trailing whitespace, or None when nothing is left."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


_local = threading.local()  # subtle: a PyStemmer Stemmer is not thread-safe, so each thread gets its own


def stemmer() -> Any:
    """This thread's English Snowball stemmer (PyStemmer: ``stemWord`` and ``stemWords``, as bm25s expects)."""
    if not hasattr(_local, "stemmer"):
        import Stemmer

        _local.stemmer = Stemmer.Stemmer("english")
    return _local.stemmer
