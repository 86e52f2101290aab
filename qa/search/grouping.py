"""Pure: collapse the same text published twice into one result that remembers where else it appears.

A candidate passage is "already shown" when at least ``threshold`` (0.8 by default) of its word 5-gram shingles
occur in the document of a result already kept: a reprint with another headline, a changed byline or a fixed typo
collapses, and so does a passage quoted whole in another report, while two articles that merely share a sentence do
not. Comparing against the kept *document* rather than its one shown passage matters: two copies of an article
can each show a different chunk (their titles differ, so their best chunks may too).

Example::

    >>> texts = {1: "Apples grow in cool climates.", 2: "apples grow in cool climates!"}
    >>> prints = {d: fingerprint(t) for d, t in texts.items()}
    >>> collapse_duplicates([(1, 1, prints[1]), (2, 2, prints[2])], prints.__getitem__, 0.8, k=5)
    [(1, [2])]
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

_WORD = re.compile(r"\w+")
SKETCH_MOD = 8  # a sketch keeps the shingles whose hash is divisible by this: about 1 in 8
MIN_PROBES = 8  # below this many sketch shingles, a passage is checked exactly against every kept document


@dataclass(frozen=True)
class Fingerprint:
    """All word 5-gram shingles of a text, and the sketch: the same consistent sample in every text (Broder's
    mod-sampling), so a shingle shared by two texts is in both sketches or in neither.

    Both are sorted arrays of distinct int64 hashes: 8 bytes a shingle, where a frozenset of Python ints takes
    about 60 (a searcher keeps the fingerprints of documents it has shown; qa.search.searcher).
    """

    shingles: np.ndarray
    sketch: np.ndarray

    @property
    def nbytes(self) -> int:
        return self.shingles.nbytes + self.sketch.nbytes


def fingerprint(text: str) -> Fingerprint:
    """Hashed word 5-grams of the case-folded text (a text of five words or fewer is one shingle).

    Python's own tuple hash: fast, and only ever compared within one process.
    """
    words = _WORD.findall(text.casefold())
    if len(words) <= 5:
        hashes = [hash(tuple(words))]
    else:
        hashes = map(hash, zip(words, words[1:], words[2:], words[3:], words[4:], strict=False))
    prints = np.sort(np.fromiter(hashes, dtype=np.int64))
    prints = prints[np.concatenate(([True], prints[1:] != prints[:-1]))]  # distinct (np.unique: 10x slower here)
    return Fingerprint(prints, prints[prints % SKETCH_MOD == 0])


def containment(part: np.ndarray, whole: np.ndarray) -> float:
    """Share of ``part``'s shingles that occur in ``whole`` (both sorted, distinct)."""
    return np.intersect1d(part, whole, assume_unique=True).size / part.size if part.size else 1.0


def collapse_duplicates(candidates: Iterable[tuple[int, int, Fingerprint]], document: Callable[[int], Fingerprint],
                        threshold: float, k: int) -> list[tuple[int, list[int]]]:
    """Best-first ``(key, group, passage fingerprint)`` -> up to ``k`` kept keys, each with the groups collapsed
    into it. ``document(group)`` gives a whole document's fingerprint (the caller caches them).

    A candidate is never compared with a kept passage of its own group. Candidates after the k-th kept one are
    still checked until the first one that would be a new result, so a copy ranked just below the cut is listed
    rather than lost.
    """
    kept: list[tuple[int, list[int]]] = []
    kept_groups: list[int] = []
    # subtle: checking every candidate against every kept document costs k^2 set operations (a second per question
    # at k = 100). Instead the kept documents' sketches go into an inverted index; a candidate's sketch finds the
    # few documents that could hold it, and only those get the exact containment test. The sketch only prunes:
    # a true copy shares at least ``threshold`` of its sketch too, and the bar to pass the pruning is half that.
    owners: dict[int, list[int]] = {}
    for key, group, prints in candidates:
        if len(prints.sketch) >= MIN_PROBES:
            hits = Counter(pos for h in prints.sketch.tolist() for pos in owners.get(h, ()))
            plausible = [pos for pos, n in hits.most_common() if n >= threshold / 2 * len(prints.sketch)]
        else:
            plausible = list(range(len(kept)))
        match = next((pos for pos in plausible if kept_groups[pos] != group
                      and containment(prints.shingles, document(kept_groups[pos]).shingles) >= threshold), None)
        if match is not None:
            kept[match][1].append(group)
        elif len(kept) < k:
            for h in document(group).sketch.tolist():
                owners.setdefault(h, []).append(len(kept))
            kept.append((key, []))
            kept_groups.append(group)
        else:
            break
    return kept
