"""Pure: a follow-up question resolved against the previous turn, without a language model.

People ask the way they talk: "Who did the Russian defence minister meet in Pyongyang?", then "What did they
discuss?"; "What does the ISW say about Pokrovsk?", then "And Kurakhove?". ``resolve`` decides whether a question
leans on the previous turn (``FollowupSettings`` holds the rule and its measured thresholds) and, when it does,
what to search instead:

- an elliptical question ("And X?", "What about X?") is the previous question with its last name replaced by X;
- any other follow-up is searched with the previous turn's subject added: the names in its question (runs of
  capitalised words, "Super Bowl 50"), else its content words, and ``answer_names`` names from its answer
  sentence (none by default: on SQuAD they drew the search to the previous answer's paragraph);
- the documents cited in the previous answer are handed back to be boosted.

A question that stands on its own is searched as it is. Example::

    >>> earlier = [Turn("What does the ISW say about Pokrovsk?")]
    >>> resolve("And Kurakhove?", earlier).searched_as
    'What does the ISW say about Kurakhove?'
    >>> earlier_turn = Turn("Who did Belousov meet?", answer="He met Kim Jong Un.")
    >>> resolve("Where did they go?", [earlier_turn]).searched_as
    'Where did they go? Belousov'
    >>> resolve("Where did they go?", [earlier_turn], FollowupSettings(answer_names=2)).searched_as
    'Where did they go? Belousov Kim Jong Un'
    >>> resolve("What did Syria's army do near Aleppo?", earlier).followup
    False
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from qa.answer.cues import STOPWORDS, words
from qa.records import Turn
from qa.settings import FollowupSettings

PRONOUNS = frozenset(
    ["he", "she", "it", "they", "them", "him", "his", "her", "hers", "its", "their", "theirs", "himself", "herself",
     "itself", "themselves"])
_ELLIPTICAL = re.compile(r"^\s*(?:and|but|also|what about|how about|and what about|and how about|what of)\b[\s,]*",
                         re.IGNORECASE)
_TOKEN = re.compile(r"[\w][\w'’.-]*[\w]|\w")
# words inside a name: "Institute for the Study of War"
_CONNECTORS = frozenset(["of", "for", "the", "de", "del", "la", "von", "van"])


@dataclass(frozen=True)
class Resolution:
    """What to search for a question: ``searched_as`` (the question itself unless it is a ``followup``) and the
    documents whose passages get a boost."""

    searched_as: str
    followup: bool = False
    boost_docs: tuple[str, ...] = ()


def _name_follows(tokens: list[tuple[str, bool]], i: int) -> bool:
    """Whether connectors from ``tokens[i]`` on lead to a capitalised word ("for the Study")."""
    while i < len(tokens) and tokens[i][0].lower() in _CONNECTORS:
        i += 1
    return i < len(tokens) and tokens[i][1]


def _is_name(run: list[str], opens_sentence: bool) -> bool:
    # subtle: a lone word may be capitalised only because it opens a sentence; an acronym or "S-300" is a name
    return bool(run) and not (opens_sentence and len(run) == 1 and run[0].isalpha() and not run[0].isupper())


def names(text: str) -> list[str]:
    """Runs of capitalised words (with digits and inner connectors: "Super Bowl 50", "Institute for the Study of
    War"), in order, once each. A capitalised stop word or question word ("The", "Who") starts none, and a lone
    word capitalised only because it opens a sentence ("Organizations like ...") is none."""
    matches = list(_TOKEN.finditer(text))
    tokens = [(m.group(0), m.group(0)[0].isupper() and m.group(0).lower() not in STOPWORDS) for m in matches]
    found: list[str] = []
    run: list[str] = []
    opens_sentence = False
    for i, (token, capital) in enumerate(tokens):
        if run and (capital or token.isdigit() or (token.lower() in _CONNECTORS and _name_follows(tokens, i))):
            run.append(token)
            continue
        if _is_name(run, opens_sentence):
            found.append(" ".join(run))
        run = [token] if capital else []
        opens_sentence = text[:matches[i].start()].rstrip()[-1:] in ("", ".", "!", "?", ":")
    if _is_name(run, opens_sentence):
        found.append(" ".join(run))
    return list(dict.fromkeys(name.removesuffix("'s").removesuffix("’s") for name in found))


def content_words(text: str) -> list[str]:
    """The words that carry meaning (no stop words, no question words), lower-cased, in order, once each."""
    return list(dict.fromkeys(w for w in words(text) if w not in STOPWORDS))


def is_followup(question: str, previous: Turn, rule: FollowupSettings) -> bool:
    """Whether ``question`` leans on ``previous``: elliptical, or a pronoun naming (almost) nothing new, or too
    short to stand alone."""
    if _ELLIPTICAL.match(question):
        return True
    if len(content_words(question)) <= rule.max_content_words:
        return True
    if not PRONOUNS.intersection(words(question)):
        return False
    known = " ".join(filter(None, (previous.searched_as, previous.question, previous.answer))).casefold()
    return sum(name.casefold() not in known for name in names(question)) <= rule.max_new_names


def subject_terms(question: str, previous: Turn, rule: FollowupSettings) -> list[str]:
    """The previous turn's subject, leaving out what ``question`` already says."""
    earlier = previous.searched_as or previous.question
    terms = names(earlier) or content_words(earlier)
    added = 0
    for name in names(previous.answer or ""):
        if added == rule.answer_names:
            break
        folded = name.casefold()
        if any(folded in term.casefold() for term in terms):
            continue
        terms = [term for term in terms if term.casefold() not in folded]  # "Belousov" gives way to "Andrei Belousov"
        terms.append(name)
        added += 1
    asked = question.casefold()
    return [term for term in terms if term.casefold() not in asked]


def elliptical(question: str, previous: Turn) -> str:
    """ "And Kurakhove?" after "What does the ISW say about Pokrovsk?" -> "What does the ISW say about Kurakhove?"."""
    fragment = _ELLIPTICAL.sub("", question).strip().rstrip("?").strip()
    earlier = previous.searched_as or previous.question
    subject = fragment.split(" ", 1)
    if len(subject) == 2 and subject[0].lower() in STOPWORDS:  # "in Kurakhove": the name goes where the old one was
        fragment = subject[1]
    if not fragment:
        return earlier
    if earlier != previous.question and earlier.startswith(previous.question):
        return f"{previous.question} {fragment}"  # it was a follow-up with its subject added: swap the subject
    earlier_names = names(earlier)
    if not earlier_names:
        return f"{earlier} {fragment}"
    last = earlier_names[-1]
    at = earlier.rfind(last)
    return earlier[:at] + fragment + earlier[at + len(last):]


def resolve(question: str, history: Sequence[Turn], rule: FollowupSettings | None = None) -> Resolution:
    """What to search for ``question`` after the turns of ``history`` (oldest first)."""
    rule = rule or FollowupSettings()
    if not history or not is_followup(question, history[-1], rule):
        return Resolution(question)
    previous = history[-1]
    if _ELLIPTICAL.match(question):
        searched = elliptical(question, previous)
    else:
        searched = " ".join([question, *subject_terms(question, previous, rule)])
    return Resolution(searched, followup=True, boost_docs=previous.cited)
