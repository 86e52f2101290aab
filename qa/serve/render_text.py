"""Pure: results and build reports as text for the terminal."""

from __future__ import annotations

import textwrap

from qa.index.build import BuildReport
from qa.index.ledger import Ledger
from qa.records import LedgerEntry, Passage, Result
from qa.search.explain import Explanation, ModeExplanation


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
    if result.searched_as and result.searched_as != result.question:
        lines += [f"Searched as: {result.searched_as}", ""]
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


def ledger_summary(entries: tuple[LedgerEntry, ...] | list[LedgerEntry]) -> str:
    """``"5 files: 3 indexed, 1 unchanged, 1 needs OCR"``: how many files had each status, most common first."""
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry.status] = counts.get(entry.status, 0) + 1
    parts = ", ".join(f"{n} {status}" for status, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])))
    return f"{len(entries)} file{'s' if len(entries) != 1 else ''}" + (f": {parts}" if parts else "")


def ledger_text(ledger: Ledger, entries: tuple[LedgerEntry, ...], width: int = 100) -> str:
    """``qa status``: the generation, a count per status, then one line per file and its reason below it."""
    lines = [f"Generation {ledger.generation}, built {ledger.built_at}" + (f" from {ledger.corpus}" if ledger.corpus
                                                                           else ""),
             ledger_summary(ledger.entries) + ".", ""]
    if not entries:
        lines.append("No file has a problem." if ledger.entries else "The corpus had no files.")
        return "\n".join(lines) + "\n"
    status_width = max(len("status"), *(len(e.status) for e in entries))
    lines.append(f"{'status':<{status_width}}  {'chunks':>6}  {'reader':<6}  {'seconds':>7}  file")
    for e in entries:
        lines.append(f"{e.status:<{status_width}}  {e.chunks:>6}  {e.reader or '-':<6}  {e.seconds:>7.3f}  {e.path}")
        if e.reason:
            lines += textwrap.wrap(e.reason, width, initial_indent="    ", subsequent_indent="    ")
    return "\n".join(lines) + "\n"


def verdict(mode: ModeExplanation, explanation: Explanation) -> str:
    """What ``ask`` does with the document in one mode, in a few words."""
    if mode.rank is None:
        return "not retrieved: no word of the question is in it" if mode.mode == "lexical" else "not retrieved"
    if mode.shown(explanation.k):
        return f"shown at rank {mode.ask_rank}"
    if explanation.filtered_out:
        return "removed by the filter"
    if mode.collapsed_into:
        return f"collapsed as a duplicate of {mode.collapsed_into}"
    return f"not shown: rank {mode.ask_rank or mode.rank} is below the {explanation.k} shown"


def explanation_text(explanation: Explanation) -> str:
    """``qa explain``: one line per mode (rank, scores, what ``ask`` did with it), then the filter's verdict."""
    lines = [f"{explanation.doc_id} ({explanation.title}) for: {explanation.question}", "",
             f"{'mode':<8} {'rank':>13}  {'score':>8}  {'dense':>7}  {'lexical':>8}  outcome with k={explanation.k}"]
    for m in explanation.modes:
        if m.rank is None:
            lines.append(f"{m.mode:<8} {'-':>13}  {'':>8}  {'':>7}  {'':>8}  {verdict(m, explanation)}")
            continue
        lines.append(f"{m.mode:<8} {f'{m.rank} of {m.ranked}':>13}  {m.score:>8.3f}  {m.dense_score:>7.3f}  "
                     f"{m.lexical_score:>8.3f}  {verdict(m, explanation)} (best passage chars {m.start}-{m.end})")
    lines.append("")
    lines.append(f"Filter: leaves it out ({explanation.filtered_out})." if explanation.filtered_out
                 else "Filter: none leaves it out.")
    collapsed = sorted({m.collapsed_into for m in explanation.modes if m.collapsed_into})
    lines.append(f"Duplicates: its text is collapsed into {', '.join(collapsed)}." if collapsed
                 else "Duplicates: not collapsed into another document.")
    return "\n".join(lines) + "\n"
