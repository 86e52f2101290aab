"""Write ``qa/embed/calibration_texts.jsonl``: the texts the int8 variant is calibrated on (``qa.embed.int8``).

    .venv/bin/python scripts/make_calibration_texts.py /work/shared/data/squad-v1.1-dev

Real English text, not SciFact (the set its quality is measured on), under a licence that allows shipping it:
SQuAD v1.1 dev (Wikipedia, CC BY-SA 4.0). 4 paragraphs from each of its 48 articles, cut as ``qa index`` cuts them
(the first chunk, with its title, as the model reads it), and every 100th question: 192 passages, 106 questions,
the mix the model meets (passages when indexing, questions when asked). Deterministic: file order, no sampling.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from qa.embed.embedders import SentenceTransformerEmbedder  # noqa: E402
from qa.ingest.chunking import chunk_document, embedding_text  # noqa: E402
from qa.records import Document  # noqa: E402
from qa.settings import DEFAULT  # noqa: E402

PER_ARTICLE = 4
QUESTION_STEP = 100


def main(squad: Path) -> None:
    spans = SentenceTransformerEmbedder(variant="torch-fp32", device="cpu").token_spans
    by_article: dict[str, list[dict]] = defaultdict(list)
    for line in (squad / "corpus.jsonl").read_text().splitlines():
        record = json.loads(line)
        by_article[record["_id"].split("_")[0]].append(record)
    texts = []
    for paragraphs in by_article.values():
        step = max(1, len(paragraphs) // PER_ARTICLE)
        for record in paragraphs[::step][:PER_ARTICLE]:
            doc = Document(doc_id=record["_id"], path="squad", text=record["text"], title=record["title"])
            chunk = chunk_document(doc, spans, DEFAULT.chunk)[0]
            texts.append(embedding_text(doc, chunk, spans, DEFAULT.chunk))
    questions = (squad / "queries.jsonl").read_text().splitlines()[::QUESTION_STEP]
    texts += [json.loads(line)["text"] for line in questions]
    out = REPO / "qa" / "embed" / "calibration_texts.jsonl"
    out.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in texts))
    print(f"{len(texts)} texts -> {out.relative_to(REPO)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
