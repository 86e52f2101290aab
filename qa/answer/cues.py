"""Pure: the lexical and question-type cues that answer selection scores sentences with.

Words are lower-cased ``\\w+`` runs (any script), stemmed with PyStemmer's English Snowball stemmer (the one bm25s
uses, so both sides of the index stem alike) and stripped of stop words and question words. A question's type
says what its answer looks like: ``"when"`` a year or date, ``"number"`` a figure, ``"who"`` a name, ``"where"`` a
place; ``has_cue`` checks that a sentence holds such a thing *that the question does not already contain*.

Example::

    >>> question_type("In what year did the war end?"), has_cue("when", "It ended in 1945.", "the war end")
    ('when', True)
"""

from __future__ import annotations

import re
from functools import lru_cache

from bm25s.stopwords import STOPWORDS_EN

from qa.text import stemmer


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


_WORD = re.compile(r"\w+")
QUESTION_WORDS = _wordset(
    "what when who whom whose which where why how did does do was were is are many much can could would "
    "should has have had name named called"
)
STOPWORDS = frozenset(STOPWORDS_EN) | QUESTION_WORDS

_NUMBER_Q = re.compile(
    r"\bhow (many|much|long|far|old|large|big|tall|high|often|fast|wide|deep|heavy|small|few)\b"
    r"|\bwhat (percentage|percent|number|amount|proportion|fraction|size|population|temperature)\b",
)
_WHEN_Q = re.compile(
    r"\bwhen\b|\b(what|which|in what) (year|years|date|day|month|century|decade|time|period|era|season)\b"
)
_WHO_Q = re.compile(r"\b(who|whom|whose)\b")
_WHERE_Q = re.compile(
    r"\bwhere\b|\b(what|which) (city|country|state|place|town|region|continent|location|county|island|river)\b"
)

_MONTHS = "january february march april may june july august september october november december"
_DATE = re.compile(
    r"\b(1\d{3}|20\d{2})s?\b|\b\d{1,2}(st|nd|rd|th) century\b|\b(bc|ad|bce|ce)\b|\b(" + _MONTHS.replace(" ", "|")
    + r")\b",
    re.IGNORECASE,
)
_NUMBER_WORDS = _wordset(
    "two three four five six seven eight nine ten eleven twelve fifteen twenty thirty forty fifty hundred "
    "thousand million billion trillion dozen dozens half quarter percent"
)
_NAME_LIKE = re.compile(r"\b[^\W\d_][\w'’-]*")  # a word starting with a letter; names are the capitalised ones

@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    return stemmer().stemWord(word)


def words(text: str) -> list[str]:
    """Lower-cased word tokens, unstemmed."""
    return _WORD.findall(text.lower())


def content_stems(text: str) -> list[str]:
    """Stems of the words that carry meaning, in order (stop words and question words left out)."""
    return [stem(w) for w in words(text) if w not in STOPWORDS]


def question_type(question: str) -> str | None:
    """``"number"``, ``"when"``, ``"who"``, ``"where"`` or None, from the question's wording."""
    q = question.lower()
    for kind, pattern in (("number", _NUMBER_Q), ("when", _WHEN_Q), ("who", _WHO_Q), ("where", _WHERE_Q)):
        if pattern.search(q):
            return kind
    return None


def has_cue(kind: str | None, sentence: str, question: str) -> bool:
    """Whether ``sentence`` holds the kind of thing the question asks for, beyond what the question says."""
    if kind is None:
        return False
    asked = set(words(question))
    if kind == "when":
        return any(m.group(0).lower() not in asked for m in _DATE.finditer(sentence))
    if kind == "number":
        return any((w.isdigit() or w in _NUMBER_WORDS or any(c.isdigit() for c in w)) and w not in asked
                   for w in words(sentence))
    # who / where: a capitalised word (any script) that is not the sentence's first word and not in the question.
    return any(m.start() > 0 and m.group(0)[0].isupper() and m.group(0).lower() not in asked
               for m in _NAME_LIKE.finditer(sentence))
