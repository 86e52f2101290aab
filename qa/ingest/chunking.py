"""Pure: a ``Document`` becomes ``Chunk``s that fit the embedding model, with exact character offsets.

Sentences (``qa.text.split_sentences``) are packed greedily up to ``max_tokens`` word pieces (counted with the
model's own tokenizer, passed in as ``token_spans``), neighbours share up to ``overlap_tokens`` of whole sentences,
and a sentence longer than the limit is cut at a word boundary. Section headings always start a new chunk.
Invariant, tested: ``chunk.text == document.text[chunk.start:chunk.end]`` and no chunk exceeds ``max_tokens``.

Example::

    >>> from qa.text import simple_token_spans
    >>> doc = Document("a.txt", "a.txt", "One. Two three.", "One.")
    >>> [c.text for c in chunk_document(doc, simple_token_spans, ChunkSettings(max_tokens=16, overlap_tokens=0))]
    ['One. Two three.']
"""

from __future__ import annotations

from bisect import bisect_left

from qa.records import Chunk, Document
from qa.settings import ChunkSettings
from qa.text import TokenSpans, split_sentences, trim_span


class _TokenIndex:
    """Token start offsets of a whole document, to count tokens in any span by bisection."""

    def __init__(self, text: str, token_spans: TokenSpans):
        spans = token_spans(text)
        self.starts = [s for s, _ in spans]
        self.ends = [e for _, e in spans]

    def count(self, start: int, end: int) -> int:
        return bisect_left(self.starts, end) - bisect_left(self.starts, start)

    def cut(self, text: str, start: int, end: int, max_tokens: int) -> list[tuple[int, int]]:
        """Cut an over-long sentence into pieces of at most ``max_tokens``, preferring word boundaries."""
        pieces = []
        first = bisect_left(self.starts, start)
        last = bisect_left(self.starts, end)
        while first < last:
            stop = min(first + max_tokens, last)
            if stop < last:
                # subtle: a word piece ("##ing") starts mid-word; back up to a token preceded by whitespace.
                back = stop
                while back > first + 1 and not text[self.starts[back] - 1].isspace():
                    back -= 1
                if back > first + 1:
                    stop = back
            piece_end = self.ends[stop - 1] if stop < last else end
            if (span := trim_span(text, self.starts[first], piece_end)) is not None:
                pieces.append(span)
            first = stop
        return pieces


def _units(doc: Document, tokens: _TokenIndex, max_tokens: int) -> list[list[tuple[int, int, int]]]:
    """Sentences as (start, end, tokens), grouped by section so that a heading starts a new group."""
    bounds = sorted({0, len(doc.text), *(offset for offset, _ in doc.sections if 0 < offset < len(doc.text))})
    groups = []
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        units = []
        for start, end in split_sentences(doc.text, lo, hi):
            n = tokens.count(start, end)
            if n <= max_tokens:
                units.append((start, end, n))
            else:
                units.extend((s, e, tokens.count(s, e)) for s, e in tokens.cut(doc.text, start, end, max_tokens))
        if units:
            groups.append(units)
    return groups


def _pack(units: list[tuple[int, int, int]], settings: ChunkSettings) -> list[tuple[int, int]]:
    """Greedy packing with sentence overlap; every chunk adds at least one new sentence."""
    spans = []
    i = 0
    while i < len(units):
        j, total = i, 0
        while j < len(units) and total + units[j][2] <= settings.max_tokens:
            total += units[j][2]
            j += 1
        j = max(j, i + 1)
        spans.append((units[i][0], units[j - 1][1]))
        if j >= len(units):
            break
        # step back over trailing sentences worth at most overlap_tokens, but always move forward.
        back, carried = j, 0
        while back - 1 > i and carried + units[back - 1][2] <= settings.overlap_tokens:
            back -= 1
            carried += units[back][2]
        i = back
    return spans


def chunk_document(doc: Document, token_spans: TokenSpans, settings: ChunkSettings) -> list[Chunk]:
    """Cut ``doc`` into chunks of at most ``settings.max_tokens`` tokens as counted by ``token_spans``."""
    tokens = _TokenIndex(doc.text, token_spans)
    spans = [span for group in _units(doc, tokens, settings.max_tokens) for span in _pack(group, settings)]
    return [
        Chunk(
            chunk_id=f"{doc.doc_id}::{index}",
            doc_id=doc.doc_id,
            index=index,
            start=start,
            end=end,
            text=doc.text[start:end],
            page=doc.page_at(start),
            section=doc.section_at(start),
        )
        for index, (start, end) in enumerate(spans)
    ]


def embedding_text(doc: Document, chunk: Chunk, token_spans: TokenSpans, settings: ChunkSettings) -> str:
    """What the model reads for a chunk: the title (cut to ``title_tokens``) and the chunk text.

    The title is left out when the chunk already starts with it, and when ``title_tokens`` is 0.
    """
    title = doc.title.strip()
    if not title or settings.title_tokens == 0 or chunk.text.startswith(title):
        return chunk.text
    spans = token_spans(title)
    if len(spans) > settings.title_tokens:
        title = title[: spans[settings.title_tokens - 1][1]]
    return f"{title}\n{chunk.text}"


def chunks_to_embed(doc: Document, token_spans: TokenSpans, settings: ChunkSettings) -> list[tuple[Chunk, str]]:
    """Every chunk of ``doc`` with the text the model reads for it (``embedding_text``): what a build embeds.

    Example::

        >>> from qa.text import simple_token_spans
        >>> doc = Document("a.txt", "a.txt", "One. Two three.", "Title")
        >>> settings = ChunkSettings(max_tokens=16, overlap_tokens=0)
        >>> [text for _, text in chunks_to_embed(doc, simple_token_spans, settings)]
        ['Title\\nOne. Two three.']
    """
    return [(chunk, embedding_text(doc, chunk, token_spans, settings))
            for chunk in chunk_document(doc, token_spans, settings)]
