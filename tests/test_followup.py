"""Follow-up questions: the pure resolution rule, the history forms accepted, and ``ask(history=...)`` end to end
with the hashing embedder over two cities whose facts only the conversation tells apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.answer.followup import Resolution, is_followup, names, resolve
from qa.assistant import Assistant
from qa.errors import QuestionError
from qa.index.build import build_index
from qa.records import Turn, history_from
from qa.settings import FollowupSettings, Settings


@pytest.mark.parametrize(("text", "expected"), [
    ("Which NFL team represented the AFC at Super Bowl 50?", ["NFL", "AFC", "Super Bowl 50"]),
    ("What does the Institute for the Study of War say?", ["Institute for the Study of War"]),
    ("Who met Kim Jong Un in Pyongyang's centre?", ["Kim Jong Un", "Pyongyang"]),
    ("The army said so. Who is it?", []),
    ("", []),
])
def test_names_are_runs_of_capitalised_words(text: str, expected: list[str]) -> None:
    assert names(text) == expected


@pytest.mark.parametrize(("question", "followup"), [
    ("And Kurakhove?", True),
    ("What about the Wilson Center?", True),
    ("What did they discuss?", True),          # a pronoun, nothing new named
    ("How many are there?", True),            # no word that carries meaning
    ("When was it founded by the Greeks in Massalia?", False),  # a pronoun, but new names: a new subject
    ("Which river flows through Vienna?", False),
])
def test_is_followup(question: str, followup: bool) -> None:
    previous = Turn("Who did the Russian defence minister meet in Pyongyang?", answer="He met Kim Jong Un.")
    assert is_followup(question, previous, FollowupSettings()) is followup


def test_resolve_adds_the_previous_subject_and_boosts_its_documents() -> None:
    previous = Turn("Who did the Russian defence minister meet in Pyongyang?",
                    answer="Minister Belousov met Kim Jong Un.", cited=("isw.md", "wilson.md"))
    resolved = resolve("What did they discuss?", [Turn("unrelated"), previous], FollowupSettings(answer_names=2))
    assert resolved == Resolution("What did they discuss? Russian Pyongyang Minister Belousov Kim Jong Un", True,
                                  ("isw.md", "wilson.md"))
    fewer = resolve("What did they discuss?", [previous], FollowupSettings(answer_names=1))
    assert fewer.searched_as == "What did they discuss? Russian Pyongyang Minister Belousov"


def test_resolve_without_names_takes_the_content_words() -> None:
    resolved = resolve("How many are there?", [Turn("Where are most displaced people?")])
    assert resolved.searched_as == "How many are there? most displaced people"


def test_elliptical_question_replaces_the_last_name() -> None:
    earlier = [Turn("What does the ISW say about Pokrovsk?")]
    assert resolve("And in Kurakhove?", earlier).searched_as == "What does the ISW say about Kurakhove?"
    chained = [Turn("What does the ISW say about Pokrovsk?", searched_as="What does the ISW say about Pokrovsk?"),
               Turn("And Kurakhove?", searched_as="What does the ISW say about Kurakhove?")]
    assert resolve("What about Toretsk?", chained).searched_as == "What does the ISW say about Toretsk?"
    assert resolve("And?", earlier).searched_as == "What does the ISW say about Pokrovsk?"


def test_a_question_that_stands_alone_is_searched_as_asked() -> None:
    assert resolve("Which river flows through Vienna?", [Turn("Who founded Marseille?")]) == \
        Resolution("Which river flows through Vienna?")
    assert resolve("What did they discuss?", []) == Resolution("What did they discuss?")


def test_history_forms() -> None:
    asked = {"question": "Who founded Marseille?", "searched_as": "Who founded Marseille?",
             "answer": {"text": "Greeks from Phocaea founded it."}, "passages": [{"doc_id": "m.txt"}, {}]}
    turns = history_from(["Who?", {"question": "Who founded Marseille?", "answer": asked},
                          {"question": "When?"}, Turn("Where?")])
    assert turns == (Turn("Who?"), Turn("Who founded Marseille?", "Who founded Marseille?",
                                        "Greeks from Phocaea founded it.", ("m.txt",)),
                     Turn("When?"), Turn("Where?"))
    assert history_from(None) == () and history_from([]) == ()


@pytest.mark.parametrize(("history", "message"), [
    ("Who founded Marseille?", "must be a list of earlier turns"),
    ({"question": "x"}, "must be a list of earlier turns"),
    ([3], "history turn 1 is neither a question"),
    (["ok", {"answer": {}}], "history turn 2 is neither a question"),
    ([{"question": "x", "answer": "Greeks"}], "history turn 1 has an answer that is not the JSON object"),
])
def test_bad_history_is_one_clear_message(history, message: str) -> None:
    with pytest.raises(QuestionError, match=message):
        history_from(history)


@pytest.fixture
def cities(tmp_path: Path, embedder) -> Assistant:
    corpus = tmp_path / "cities"
    corpus.mkdir()
    (corpus / "marseille.txt").write_text(
        "Marseille\n\nMarseille was founded by Greek sailors from Phocaea around 600 BC. The old port of Marseille "
        "still shelters fishing boats.\n", encoding="utf-8")
    (corpus / "lyon.txt").write_text(
        "Lyon\n\nLyon was founded by the Romans in 43 BC as Lugdunum. Silk weaving made Lyon rich.\n",
        encoding="utf-8")
    (corpus / "ports.txt").write_text(
        "Harbours\n\nA port was founded where a river meets the sea. Sailors shelter boats in an old port.\n",
        encoding="utf-8")
    build_index(corpus, tmp_path / "index", embedder, progress=False)
    return Assistant.load(tmp_path / "index", embedder=embedder)


def test_ask_resolves_a_follow_up_against_the_history(cities: Assistant) -> None:
    first = cities.ask("Who sailed to Marseille?", k=3, mode="lexical")
    assert first.passages[0].path == "marseille.txt" and first.to_dict()["searched_as"] == first.question
    alone = cities.ask("When was it founded?", k=3, mode="lexical")
    followup = cities.ask("When was it founded?", k=3, mode="lexical", history=[first])
    assert followup.searched_as == "When was it founded? Marseille"
    assert followup.passages[0].path == "marseille.txt" != alone.passages[0].path
    assert "600 BC" in followup.answer.text
    data = followup.to_dict()
    assert data["question"] == "When was it founded?" and data["searched_as"] == followup.searched_as
    again = cities.ask("And Lyon?", k=3, mode="lexical", history=[first.to_dict() | {"question": first.question}])
    assert again.searched_as == "Who sailed to Lyon?" and again.passages[0].path == "lyon.txt"


def test_cited_documents_get_the_boost(cities: Assistant, tmp_path: Path, embedder) -> None:
    history = [{"question": "Which harbour?", "answer": {"passages": [{"doc_id": "ports.txt"}]}}]
    boosted = cities.ask("How was it founded?", k=3, mode="lexical", history=history)
    assert boosted.searched_as == "How was it founded? harbour"  # no name: the content words
    assert boosted.passages[0].path == "ports.txt"
    plain = Assistant(cities.searcher, embedder, cities.index_dir,
                      Settings(followup=FollowupSettings(boost=0.0)))
    unboosted = plain.ask("How was it founded?", k=3, mode="lexical", history=history)
    assert boosted.passages[0].score > unboosted.passages[0].score  # the boost is added, not the word alone
    for mode in ("dense", "hybrid"):
        assert cities.ask("How was it founded?", k=3, mode=mode, history=history).passages[0].path == "ports.txt"


def test_a_new_topic_is_not_merged(cities: Assistant) -> None:
    first = cities.ask("Who sailed to Marseille?", k=3, mode="lexical")
    result = cities.ask("Why did silk weaving make Lyon rich?", k=3, history=[first])
    assert result.searched_as == result.question and result.passages[0].path == "lyon.txt"


def test_elliptical_after_a_resolved_follow_up_swaps_the_added_subject() -> None:
    previous = Turn("When was it founded?", searched_as="When was it founded? Lyon Romans")
    assert resolve("And Nice?", [previous]).searched_as == "When was it founded? Nice"


def test_a_word_capitalised_only_as_a_sentence_opener_is_no_name() -> None:
    assert names("Organizations like Refugees International help. Many flee. NATO met. Lyon Airport is shut.") \
        == ["Refugees International", "NATO", "Lyon Airport"]
