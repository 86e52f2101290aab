"""Pure: collapse the same text published twice into one result that remembers where else it appears.

A candidate passage is "already shown" when at least ``threshold`` (0.8 by default) of its word 5-gram shingles
occur in the document of a result already kept: a reprint with another headline, a changed byline or a fixed typo
collapses, and so does a passage quoted whole in another report, while two articles that merely share a sentence do
not. Comparing against the kept *document* rather than its one shown passage matters: two copies of an article
can each show a different chunk (their titles differ, so their best chunks may too).

Example::

    >>> texts = {1: "Apples grow in cool climates.", 2: "apples grow in cool climates!"}
    >>> collapse_duplicates([(1, 1, texts[1]), (2, 2, texts[2])], lambda d: shingles(texts[d]), 0.8, k=5)
    [(1, [2])]
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterable

_WORD = re.compile(r"\w+")
SHINGLE = 5


def shingles(text: str, size: int = SHINGLE) -> frozenset[int]:
    """Hashed word n-grams of the case-folded text; a text shorter than ``size`` words is one shingle."""
    words = _WORD.findall(text.casefold())
    if len(words) <= size:
        return frozenset({zlib.crc32(" ".join(words).encode())})
    return frozenset(zlib.crc32(" ".join(words[i:i + size]).encode()) for i in range(len(words) - size + 1))


def containment(part: frozenset[int], whole: frozenset[int]) -> float:
    """Share of ``part``'s shingles that occur in ``whole``."""
    return len(part & whole) / len(part) if part else 1.0


def collapse_duplicates(candidates: Iterable[tuple[int, int, str]], group_shingles: Callable[[int], frozenset[int]],
                        threshold: float, k: int) -> list[tuple[int, list[int]]]:
    """Best-first ``(key, group, passage text)`` -> up to ``k`` kept keys, each with the groups collapsed into it.

    ``group_shingles(group)`` gives the shingles of a whole document (the caller caches them). A candidate is never
    compared with a kept passage of its own group. Candidates after the k-th kept one are still checked until the
    first one that would be a new result, so a copy ranked just below the cut is listed rather than lost.
    """
    kept: list[tuple[int, int, list[int]]] = []
    for key, group, text in candidates:
        prints = shingles(text)
        match = next((entry for entry in kept
                      if entry[1] != group and containment(prints, group_shingles(entry[1])) >= threshold), None)
        if match is not None:
            match[2].append(group)
        elif len(kept) < k:
            kept.append((key, group, []))
        else:
            break
    return [(key, dupes) for key, _, dupes in kept]
