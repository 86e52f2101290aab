"""Ratings from the chat, kept as a regression set in the questions format that ``qa eval`` reads.

One JSON object a line in ``<index>/feedback.jsonl``::

    {"question": ..., "source": ..., "answer": ..., "rating": "up" | "down", "id": ..., "time": ..., ...}

``source`` is what the top passage's source label should contain and ``answer`` what the answer should contain:

- thumbs up: the shown top passage and answer were right, so they become the expectation;
- thumbs down naming the passage that does answer: that passage's source label, answer unknown (null);
- thumbs down alone: no expectation is known (``source`` null): the line records the failure for a person to fill in.

A rating refined later (a passage named after a thumbs-down) is appended as a new line with the same ``id``;
the last line for an ``id`` is the one that counts.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

FILENAME = "feedback.jsonl"
_lock = threading.Lock()


def feedback_record(result: dict[str, Any], liked: bool, *, rating_id: str,
                    passage_rank: int | None = None) -> dict[str, Any]:
    """The line for a rating of ``result`` (a ``Result.to_dict()``); ``passage_rank`` names the right passage."""
    passages = result.get("passages") or []
    answer = result.get("answer") or None
    top = passages[0] if passages else None
    source = expected = None
    if liked and top is not None:
        source = top["source"]
        expected = answer["text"] if answer else None
    elif passage_rank is not None:
        named = next((p for p in passages if p["rank"] == passage_rank), None)
        if named is None:
            raise ValueError(f"no passage ranked {passage_rank} in this answer: choose one of the passages shown")
        source = named["source"]
    return {
        "question": result["question"],
        "source": source,
        "answer": expected,
        "rating": "up" if liked else "down",
        "id": rating_id,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "mode": result.get("mode"),
        "passage_rank": passage_rank if not liked else 1,
        "shown": {
            "source": top["source"] if top else None,
            "file": top["file"] if top else None,
            "answer": answer["text"] if answer else None,
        },
    }


def append_feedback(index_dir: Path, record: dict[str, Any]) -> Path:
    """Append one record as one line (one write, so concurrent ratings never interleave)."""
    path = Path(index_dir) / FILENAME
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, ensure_ascii=False) + "\n"
    with _lock, path.open("a", encoding="utf-8") as handle:
        handle.write(line)
    return path
