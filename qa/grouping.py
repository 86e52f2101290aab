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
from collections import Counter
from collections.abc import Callable, Iterable

_WORD = re.compile(r"\w+")


def shingles(text: str) -> frozenset[int]:
    """Hashed word 5-grams of the case-folded text; a text of five words or fewer is one shingle.

    Python's own tuple hash: fast, and only ever compared within one process.
    """
    words = _WORD.findall(text.casefold())
    if len(words) <= 5:
        return frozenset({hash(tuple(words))})
    return frozenset(map(hash, zip(words, words[1:], words[2:], words[3:], words[4:], strict=False)))


def collapse_duplicates(candidates: Iterable[tuple[int, int, str]], group_shingles: Callable[[int], frozenset[int]],
                        threshold: float, k: int) -> list[tuple[int, list[int]]]:
    """Best-first ``(key, group, passage text)`` -> up to ``k`` kept keys, each with the groups collapsed into it.

    ``group_shingles(group)`` gives the shingles of a whole document (the caller caches them). A candidate is never
    compared with a kept passage of its own group. Candidates after the k-th kept one are still checked until the
    first one that would be a new result, so a copy ranked just below the cut is listed rather than lost.
    """
    kept: list[tuple[int, list[int]]] = []
    kept_groups: list[int] = []
    # subtle: an inverted index (shingle -> kept positions) makes each check cost one lookup per shingle of the
    # candidate, instead of one set intersection per kept result: k = 100 stays cheap.
    owners: dict[int, list[int]] = {}
    for key, group, text in candidates:
        prints = shingles(text)
        hits = Counter(pos for h in prints for pos in owners.get(h, ()) if kept_groups[pos] != group)
        best = hits.most_common(1)
        if best and best[0][1] >= threshold * len(prints):
            kept[best[0][0]][1].append(group)
        elif len(kept) < k:
            for h in group_shingles(group):
                owners.setdefault(h, []).append(len(kept))
            kept.append((key, []))
            kept_groups.append(group)
        else:
            break
    return kept
