"""Pure: results, the index and build reports as HTML for the chat page.

Every piece of document text, label, path and question is escaped here, so a document that contains markup
shows it as text and can never inject HTML into the page. The output never contains a blank line: the chat
renders messages as Markdown, and an HTML block ends at the first blank line (CommonMark), after which the rest
would be read as Markdown.

>>> print(highlighted("Russia withdrew S-300s in 2022.", (16, 30)))
Russia withdrew <mark>S-300s in 2022</mark>.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from html import escape
from typing import Any

from qa.records import Answer, Passage, Result
from qa.serve.render_text import location_parts

FOLD_CHARS = 1000  # longer passages fold behind a preview (a typical 200-token passage is 800-1100 chars)
PREVIEW_CHARS = 420
MAX_DOC_ROWS = 500  # the index panel lists this many documents, then a count

_OPEN, _CLOSE = "\ue000", "\ue001"  # private-use marks: survive escaping and white-space clean-up
_PARAGRAPH = re.compile(r"\n[ \t\r\f\v]*\n\s*")
_SPACE = re.compile(r"\s+")


def _paragraphs(text: str) -> str:
    """Escaped text: paragraphs joined by ``<br><br>``, every other run of white space one space."""
    parts = (_SPACE.sub(" ", part).strip() for part in _PARAGRAPH.split(text))
    return "<br><br>".join(escape(p) for p in parts if p)


def _clean(text: str) -> str:
    return _paragraphs(text.replace(_OPEN, "").replace(_CLOSE, ""))


def _marked(text: str, span: tuple[int, int] | None, lo: int, hi: int) -> str:
    """``text[lo:hi]`` escaped, with the part of ``span`` inside it in ``<mark>``."""
    text = text.replace(_OPEN, " ").replace(_CLOSE, " ")  # same length: offsets stay valid
    if span and 0 <= span[0] < span[1] <= len(text):
        start, end = max(span[0], lo), min(span[1], hi)
        if start < end:
            text = text[:start] + _OPEN + text[start:end] + _CLOSE + text[end:]
            hi += 2
    return _paragraphs(text[lo:hi]).replace(_OPEN, "<mark>").replace(_CLOSE, "</mark>")


def highlighted(text: str, span: tuple[int, int] | None) -> str:
    """``text`` escaped, with ``text[start:end]`` in ``<mark>``; a span outside the text is ignored."""
    return _marked(text, span, 0, len(text))


def preview(text: str, span: tuple[int, int] | None, limit: int = PREVIEW_CHARS) -> str:
    """About ``limit`` characters of ``text``, centred on the highlight (else from the start), cut at spaces."""
    valid = span is not None and 0 <= span[0] < span[1] <= len(text)
    start, end = span if valid and span else (0, 0)
    lo = min(start, max(0, (start + end) // 2 - limit // 2))
    hi = min(len(text), max(end, lo + limit))
    if lo > 0:
        space = text.find(" ", lo, start)
        lo = space + 1 if space >= 0 else lo
    if hi < len(text):
        space = text.rfind(" ", end, hi)
        hi = space if space > end else hi
    body = _marked(text, span if valid else None, lo, hi).replace("<br><br>", " ")  # a preview is one paragraph
    return ("…&nbsp;" if lo > 0 else "") + body + ("&nbsp;…" if hi < len(text) else "")


def location(passage: Passage) -> str:
    """``"isw.md · p. 3 · § Key Takeaways · chars 120–870"``, escaped."""
    return " · ".join(escape(part) for part in location_parts(passage, dash="–"))


def passage_html(passage: Passage, fold_chars: int = FOLD_CHARS) -> str:
    """One passage: rank, source label, location, score, and its text with the answer marked (folded if long)."""
    also = ""
    if passage.also_in:
        also = f'<div class="qa-also">Also in: {escape("; ".join(passage.also_in))}</div>'
    if len(passage.text) > fold_chars:
        body = (
            '<details class="qa-fold"><summary>'
            f'<span class="qa-preview">{preview(passage.text, passage.highlight)}</span>'
            '<span class="qa-more">Show the whole passage</span><span class="qa-less">Fold</span></summary>'
            f'<div class="qa-text">{highlighted(passage.text, passage.highlight)}</div></details>'
        )
    else:
        body = f'<div class="qa-text">{highlighted(passage.text, passage.highlight)}</div>'
    return (
        f'<div class="qa-passage" data-rank="{passage.rank}">'
        '<div class="qa-phead">'
        f'<span class="qa-rank">{passage.rank}</span>'
        f'<span class="qa-source">{escape(passage.source)}</span>'
        f'<span class="qa-score" title="relevance score (scale depends on the mode)">{passage.score:.3f}</span>'
        "</div>"
        f'<div class="qa-loc">{location(passage)}</div>'
        f"{body}{also}</div>"
    )


def answer_html(answer: Answer, passages: Iterable[Passage] = ()) -> str:
    """The answer sentence with its source label (and the location of the passage it came from)."""
    where = next((location(p) for p in passages if p.rank == answer.passage_rank), escape(answer.path))
    return (
        '<div class="qa-answer">'
        '<div class="qa-kicker">Answer</div>'
        f'<div class="qa-answer-text">{_clean(answer.text)}</div>'
        f'<div class="qa-cite">{escape(answer.source)}<span class="qa-cite-loc"> · {where}</span></div>'
        "</div>"
    )


def result_html(result: Result, fold_chars: int = FOLD_CHARS) -> str:
    """A whole result as one chat message: the answer (when there is one), then the ranked passages."""
    parts = ['<div class="qa-result">']
    if result.missing_note:
        parts.append(notice_html(result.missing_note))
    if result.answer:
        parts.append(answer_html(result.answer, result.passages))
    if not result.passages:
        parts.append('<div class="qa-empty">No passage matches this question (and filters). '
                     "Try other words, a wider date range or fewer source filters.</div>")
    else:
        timing = sum(result.timings_ms.values()) if result.timings_ms else None
        meta = [f"{len(result.passages)} passage{'s' if len(result.passages) != 1 else ''}", escape(result.mode)]
        if timing is not None:
            meta.append(f"{timing:.0f} ms")
        parts.append(f'<div class="qa-meta">{" · ".join(meta)}</div>')
        parts += [passage_html(p, fold_chars) for p in result.passages]
    parts.append("</div>")
    return "".join(parts)


def question_html(question: str) -> str:
    """The user's question as shown in the chat: escaped, on one line."""
    return escape(" ".join(question.split()))


def notice_html(text: str, kind: str = "warning") -> str:
    """A short message in the chat (no results, index missing, ...)."""
    return f'<div class="qa-notice qa-{escape(kind)}">{_clean(text)}</div>'


def built(info: dict[str, Any]) -> str:
    """``"2024-11-30T10:00:00+0000"`` -> ``"2024-11-30 10:00"``."""
    return str(info["built_at"])[:16].replace("T", " ")


def info_html(info: dict[str, Any] | None, max_rows: int = MAX_DOC_ROWS) -> str:
    """The index panel: counts, model, build time and the documents with their source labels."""
    if info is None:
        return notice_html("No index yet: add documents below (or to the corpus folder) and rebuild.")
    stats = [("Documents", f"{info['documents']:,}"), ("Passages", f"{info['chunks']:,}"),
             ("Model", info["model"]), ("Built", built(info))]
    cards = "".join(f'<div class="qa-stat"><div class="qa-stat-v">{escape(str(v))}</div>'
                    f'<div class="qa-stat-k">{escape(k)}</div></div>' for k, v in stats)
    sources = info["sources"]
    rows = "".join(f"<tr><td>{escape(source)}</td><td><code>{escape(path)}</code></td></tr>"
                   for source, path in sources[:max_rows])
    if len(sources) > max_rows:
        rows += f'<tr><td colspan="2">… and {len(sources) - max_rows:,} more</td></tr>'
    return (f'<div class="qa-info"><div class="qa-stats">{cards}</div>'
            f'<table class="qa-docs"><thead><tr><th>Source</th><th>File</th></tr></thead>'
            f"<tbody>{rows}</tbody></table></div>")


def header_html(info: dict[str, Any] | None) -> str:
    """The page title with what the chat answers from."""
    return ('<div class="qa-header"><div class="qa-brand"><span class="qa-logo">qa</span>'
            '<span class="qa-title">Ask your documents</span></div>'
            f'<div class="qa-summary">{summary_line(info)}</div></div>')


def summary_line(info: dict[str, Any] | None) -> str:
    """One line under the title: what the chat answers from."""
    if info is None:
        return "No index yet — add documents in the <b>Documents</b> tab."
    return (f"{info['documents']:,} documents · {info['chunks']:,} passages · {escape(info['model'])} · "
            f"built {escape(built(info))}")


def _index_line(report: Any) -> str:
    if not (report.added or report.changed or report.removed):
        return (f"The index is up to date: {report.documents:,} documents, {report.chunks:,} passages "
                f"(checked in {report.seconds:.1f} s).")
    return (f"Index: {report.documents:,} documents, {report.chunks:,} passages — {len(report.added)} added, "
            f"{len(report.changed)} changed, {len(report.removed)} removed; {report.chunks_embedded:,} passages "
            f"embedded, {report.chunks_reused:,} reused; {report.seconds:.1f} s.")


def report_html(report: Any, saved: Iterable[str] = (), refused: Iterable[tuple[str, str]] = ()) -> str:
    """What a rebuild (and an upload before it) did; unreadable files listed with the reason."""
    items = [f"<li>Added to the corpus: <code>{escape(name)}</code></li>" for name in saved]
    items += [f'<li class="qa-bad"><code>{escape(name)}</code> not added: {escape(why)}</li>' for name, why in refused]
    if report is not None:
        items.append(f"<li>{_index_line(report)}</li>")
        items += [f"<li>{escape(note)}</li>" for note in report.notes]
        items += [f'<li class="qa-bad">Could not read <code>{escape(p.path)}</code>: {escape(p.reason)}</li>'
                  for p in report.problems]
    return f'<ul class="qa-report">{"".join(items)}</ul>'
