"""Pure: results and build reports as text for the terminal."""

from __future__ import annotations

import textwrap

from qa.index.build import BuildReport
from qa.records import Passage, Result


def location_parts(passage: Passage, dash: str = "-") -> list[str]:
    """``["isw.md", "p. 3", "§ Key Takeaways", "chars 120-870"]``: file, page, section, offsets."""
    parts = [passage.path]
    if passage.page:
        parts.append(f"p. {passage.page}")
    if passage.section:
        parts.append(f"§ {passage.section}")
    parts.append(f"chars {passage.start}{dash}{passage.end}")
    return parts


def location(passage: Passage) -> str:
    """``"isw.md, p. 3, § Key Takeaways, chars 120-870"``."""
    return ", ".join(location_parts(passage))


def marked_text(passage: Passage) -> str:
    """The passage text with the answer sentence between » and «, whitespace runs made single spaces."""
    text = passage.text
    if passage.highlight:
        start, end = passage.highlight
        text = f"{text[:start]}»{text[start:end]}«{text[end:]}"
    return " ".join(text.split())


def result_text(result: Result, width: int = 100) -> str:
    lines = []
    if result.missing_note:
        lines += [*textwrap.wrap(result.missing_note, width), ""]
    if result.answer:
        where = f"[{result.answer.passage_rank}] " if result.passages else ""
        lines += [f"Answer: {' '.join(result.answer.text.split())}",
                  f"        — {where}{result.answer.source}", ""]
    if not result.passages:
        lines.append("No passages found.")
    for p in result.passages:
        lines.append(f"[{p.rank}] {p.source}  (score {p.score:.3f})")
        lines.append(f"    {location(p)}")
        lines += textwrap.wrap(marked_text(p), width, initial_indent="    ", subsequent_indent="    ")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def report_text(report: BuildReport) -> str:
    lines = [
        f"Indexed {report.documents} documents, {report.chunks} chunks in {report.seconds:.1f} s "
        f"(generation {report.generation}).",
        f"Documents: {len(report.added)} added, {len(report.changed)} changed, {len(report.removed)} removed, "
        f"{report.unchanged} unchanged, {len(report.problems)} unreadable.",
        f"Chunks: {report.chunks_embedded} embedded, {report.chunks_reused} reused.",
    ]
    lines += [f"Note: {note}" for note in report.notes]
    if report.problems:
        lines.append("Could not read:")
        lines += [f"  {p.path}: {p.reason}" for p in report.problems]
    return "\n".join(lines) + "\n"
