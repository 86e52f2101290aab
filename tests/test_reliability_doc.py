"""docs/reliability.md names a test for every case: each name it gives must be a test that exists."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_every_test_the_reliability_note_names_exists() -> None:
    text = (REPO / "docs" / "reliability.md").read_text()
    current, named, missing = None, 0, []
    for match in re.finditer(r"`(test_\w+\.py)?::(\w+)", text):  # "::name" continues the last file named
        current = match.group(1) or current
        named += 1
        if f"def {match.group(2)}(" not in (REPO / "tests" / current).read_text():
            missing.append(f"{current}::{match.group(2)}")
    assert named > 50 and missing == []
