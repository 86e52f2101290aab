"""bench/adapt_training.py: the training pairs made from a corpus (title -> passage, the inverse cloze task)."""

from __future__ import annotations

import pytest

from bench.adapt_training import ict_pairs, title_pairs
from qa.text import split_sentences

DOCS = [
    ("Apples", "Apples grow on trees. They are picked in autumn. Cider is made from them. Some are sour."),
    ("Rivers", "The Danube flows east. It is long. Boats use it."),
    ("Short", "Only one sentence here."),
    ("", "No title. But three sentences. Still a pair for ICT."),
    ("Same", "Same"),
]


def test_title_pairs_keep_titled_documents_whose_title_is_not_the_text() -> None:
    assert title_pairs(DOCS) == [(DOCS[0][0], DOCS[0][1]), (DOCS[1][0], DOCS[1][1]),
                                 ("Short", "Only one sentence here.")]
    assert title_pairs([]) == [] and title_pairs([("  ", "text"), ("t", "  ")]) == []


def test_ict_takes_one_sentence_out_of_its_passage() -> None:
    pairs = ict_pairs(DOCS, seed=3, keep=0.0)
    assert len(pairs) == 3  # the one-sentence and one-word documents have no rest to retrieve
    for (sentence, positive), (title, text) in zip(pairs, [DOCS[0], DOCS[1], DOCS[3]], strict=True):
        sentences = [text[s:e] for s, e in split_sentences(text)]
        assert sentence in sentences and sentence not in positive
        rest = positive.removeprefix(f"{title}\n") if title else positive
        assert rest == " ".join(s for s in sentences if s != sentence)
    assert pairs[2][1].startswith("No title.") or pairs[2][0] == "No title."  # no empty title line


def test_ict_keeps_the_sentence_when_told_to_and_is_seeded() -> None:
    kept = ict_pairs(DOCS, seed=3, keep=1.0)
    assert all(sentence in positive for sentence, positive in kept)
    assert ict_pairs(DOCS, seed=5) == ict_pairs(DOCS, seed=5)
    picks = {ict_pairs(DOCS[:1], seed=seed, keep=0.0)[0][0] for seed in range(30)}
    assert len(picks) == 4  # every sentence gets picked by some seed


@pytest.mark.parametrize("layers", [0, 7])
def test_trainable_layers_out_of_range_is_refused(layers: int) -> None:
    from bench.adapt_training import freeze_lower_layers

    class Bert:
        class encoder:  # noqa: N801 - the attribute names of a transformers BertModel
            layer = [object()] * 6

    with pytest.raises(ValueError, match="not between 1 and 6"):
        freeze_lower_layers([type("Module", (), {"auto_model": Bert})()], layers)
