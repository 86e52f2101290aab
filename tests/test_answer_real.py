"""Answer sentences with the real packaged model: the seed corpus and a held-out slice of SQuAD (slow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.assistant import Assistant
from qa.embed.embedders import SentenceTransformerEmbedder
from qa.evaluation.metrics import contains_answer
from qa.index.build import build_index
from tests.conftest import ISW_DOC, SEED_CORPUS, SHARED_DATA

pytestmark = pytest.mark.slow

SQUAD = SHARED_DATA / "squad-v1.1-dev"
# Two held-out (odd-numbered) articles: "1973 oil crisis" and "Packet switching", 47 paragraphs, 212 questions.
SLICE_ARTICLES = ("13", "19")


@pytest.fixture(scope="module")
def real_embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(device="cpu")


def test_s300_question_gets_the_2022_sentence_from_the_isw_report(tmp_path_factory, real_embedder) -> None:
    index = tmp_path_factory.mktemp("seed") / "index"
    build_index(SEED_CORPUS, index, real_embedder, progress=False)
    result = Assistant.load(index, embedder=real_embedder).ask(
        "When did Russia withdraw its S-300 systems from Syria?")
    answer = result.answer
    assert answer is not None and answer.path == ISW_DOC and "2022" in answer.text
    text = (SEED_CORPUS / ISW_DOC).read_text(encoding="utf-8")
    passage = next(p for p in result.passages if p.rank == answer.passage_rank)
    assert passage.text[slice(*passage.highlight)] == answer.text
    assert answer.text in text and "Institute for the Study of War" in answer.source


@pytest.mark.skipif(not SQUAD.is_dir(), reason="needs ../shared/data/squad-v1.1-dev")
def test_answer_sentences_on_a_held_out_squad_slice(tmp_path: Path, real_embedder) -> None:
    corpus = tmp_path / "squad-slice.jsonl"
    with (SQUAD / "corpus.jsonl").open() as src:
        corpus.write_text("".join(line for line in src if json.loads(line)["_id"].split("_")[0] in SLICE_ARTICLES))
    gold_doc = {}
    with (SQUAD / "qrels.tsv").open() as qrels:
        next(qrels)
        for line in qrels:
            qid, doc, _ = line.split("\t")
            if doc.split("_")[0] in SLICE_ARTICLES:
                gold_doc[qid] = doc
    answers = {r["_id"]: r["answers_all"] for r in map(json.loads, (SQUAD / "answers.jsonl").open())
               if r["_id"] in gold_doc}
    questions = [r for r in map(json.loads, (SQUAD / "queries.jsonl").open()) if r["_id"] in gold_doc][::2]
    build_index(corpus, tmp_path / "index", real_embedder, progress=False)
    assistant = Assistant.load(tmp_path / "index", embedder=real_embedder)
    hits = [bool((a := assistant.ask(q["text"]).answer) and contains_answer(a.text, answers[q["_id"]]))
            for q in questions]
    accuracy = sum(hits) / len(hits)
    # Measured 0.745 on these 106 questions (first-sentence choice would score about 0.3): a floor of 0.6
    # fails on a real regression only. The whole dev set is measured by bench/answers.py.
    assert len(hits) == 106 and accuracy >= 0.6, f"answer-sentence accuracy {accuracy:.3f} fell below 0.6"
