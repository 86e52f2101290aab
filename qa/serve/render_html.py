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
import time
from collections.abc import Iterable
from html import escape
from typing import Any

from qa.index.ledger import Ledger
from qa.records import Answer, LedgerEntry, Passage, Result
from qa.search.explain import Explanation
from qa.serve.render_text import ledger_summary, location_parts, verdict
from qa.serve.watch import WatchState

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


def open_link(message: str | None, rank: int) -> str:
    """The "open" action of a passage (``rank``) or of the answer (0) in chat message ``message``: the page's
    viewer opens the document there. No link without a message (a result shown outside the chat)."""
    if message is None:
        return ""
    what = "the answer" if rank == 0 else f"passage {rank}"
    return (f'<a class="qa-open" href="#qa-open/{escape(message)}/{rank}" title="Open {what} in its document">'
            "Open in document</a>")


def passage_html(passage: Passage, fold_chars: int = FOLD_CHARS, message: str | None = None) -> str:
    """One passage: rank, source label, location, score, and its text with the answer marked (folded if long);
    in chat message ``message``, with the link that opens it in its document."""
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
        f'<div class="qa-loc">{location(passage)}{open_link(message, passage.rank)}</div>'
        f"{body}{also}</div>"
    )


def answer_html(answer: Answer, passages: Iterable[Passage] = (), message: str | None = None) -> str:
    """The answer sentence with its source label (and the location of the passage it came from), and in chat
    message ``message`` the link that opens it in its document."""
    where = next((location(p) for p in passages if p.rank == answer.passage_rank), escape(answer.path))
    return (
        '<div class="qa-answer">'
        '<div class="qa-kicker">Answer</div>'
        f'<div class="qa-answer-text">{_clean(answer.text)}</div>'
        f'<div class="qa-cite">{escape(answer.source)}<span class="qa-cite-loc"> · {where}</span>'
        f"{open_link(message, 0)}</div>"
        "</div>"
    )


def result_html(result: Result, fold_chars: int = FOLD_CHARS, message: str | None = None) -> str:
    """A whole result as one chat message: the answer (when there is one), then the ranked passages; ``message``
    is the chat message's index, for the links that open them in their documents."""
    parts = ['<div class="qa-result">']
    if result.missing_note:
        parts.append(notice_html(result.missing_note))
    if result.answer:
        parts.append(answer_html(result.answer, result.passages, message))
    if not result.passages:
        parts.append('<div class="qa-empty">No passage matches this question (and filters). '
                     "Try other words, a wider date range or fewer source filters.</div>")
    else:
        timing = sum(result.timings_ms.values()) if result.timings_ms else None
        meta = [f"{len(result.passages)} passage{'s' if len(result.passages) != 1 else ''}", escape(result.mode)]
        if timing is not None:
            meta.append(f"{timing:.0f} ms")
        parts.append(f'<div class="qa-meta">{" · ".join(meta)}</div>')
        parts += [passage_html(p, fold_chars, message) for p in result.passages]
    parts.append("</div>")
    return "".join(parts)


def question_html(question: str, searched_as: str | None = None) -> str:
    """The user's question as shown in the chat: escaped, on one line, with what it was searched as beneath it
    when that differs (a follow-up resolved against the conversation)."""
    shown = escape(" ".join(question.split()))
    if not searched_as or searched_as == question:
        return shown
    return f'{shown}<div class="qa-searched-as">searched as: {escape(" ".join(searched_as.split()))}</div>'


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


LEDGER_HEADERS = ["Status", "File", "Reason", "Chunks", "Reader", "Seconds", "Generation"]


def ledger_rows(entries: Iterable[LedgerEntry]) -> list[list[Any]]:
    """The Documents tab's table: one row per corpus file, the files not indexed whole first, then by path.

    Plain values, not HTML: the table shows them as text, so a file name can never be markup.

    >>> ledger_rows([LedgerEntry("a.md", "indexed", chunks=3), LedgerEntry("b.xlsx", "skipped", "unsupported")])
    [['skipped', 'b.xlsx', 'unsupported', 0, '', 0.0, ''], ['indexed', 'a.md', '', 3, '', 0.0, '']]
    """
    ordered = sorted(entries, key=lambda e: (not e.problem, e.path))
    return [[e.status, e.path, e.reason, e.chunks, e.reader, round(e.seconds, 3), e.generation] for e in ordered]


def ledger_summary_html(ledger: Ledger) -> str:
    """The line above the table: how many files had each outcome in the live generation."""
    problems = len(ledger.problems)
    kind = "warning" if problems else "info"
    tail = (f" {problems} not indexed whole: their reasons are in the table (type a status in its filter box)."
            if problems else "")
    return notice_html(f"Ledger of generation {ledger.generation}: {ledger_summary(ledger.entries)}.{tail}", kind)


def _score(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def explanation_html(explanation: Explanation) -> str:
    """"Why wasn't this found?": the document's rank, scores and outcome in each mode, then filter and duplicates."""
    rows = "".join(
        f"<tr><td>{escape(m.mode)}</td><td>{f'{m.rank} of {m.ranked}' if m.rank else '-'}</td>"
        f"<td>{_score(m.score)}</td><td>{_score(m.dense_score)}</td><td>{_score(m.lexical_score)}</td>"
        f"<td>{escape(verdict(m, explanation))}</td></tr>" for m in explanation.modes)
    notes = [f"Left out by the filter: {explanation.filtered_out}." if explanation.filtered_out
             else "No filter leaves it out."]
    collapsed = sorted({m.collapsed_into for m in explanation.modes if m.collapsed_into})
    if collapsed:
        notes.append(f"Its text is collapsed into {', '.join(collapsed)} (shown once, with the other source).")
    return (f'<div class="qa-explain"><p><b>{escape(explanation.doc_id)}</b> ({escape(explanation.title)}) for '
            f"<i>{escape(explanation.question)}</i>, {explanation.k} passages shown:</p>"
            '<table class="qa-docs"><thead><tr><th>Mode</th><th>Rank</th><th>Score</th><th>Dense</th>'
            f"<th>Lexical</th><th>Outcome</th></tr></thead><tbody>{rows}</tbody></table>"
            f"<p>{escape(' '.join(notes))}</p></div>")


def _changes(changes: tuple[str, ...], most: int = 5) -> str:
    shown = ", ".join(changes[:most])
    return shown + (f" and {len(changes) - most:,} more" if len(changes) > most else "")


def watch_html(state: WatchState, corpus: str) -> str:
    """The line under the header while ``qa serve --watch`` runs: what the watcher is doing and what it found."""
    if not state.watching:
        return ""
    if state.rebuilding:
        return notice_html(f"Rebuilding the index for {_changes(state.rebuilding)}. Questions are answered from the "
                           "current index meanwhile.", "busy")
    if state.waiting:
        return notice_html(f"Noticed {_changes(state.waiting)}: indexing once the files stop changing.", "busy")
    if state.error:
        return notice_html(f"The rebuild for {_changes(state.last_changes)} failed: {state.error}. Still answering "
                           "from the current index.", "error")
    if state.report is not None:
        when = time.strftime("%H:%M:%S", time.localtime(state.finished_at)) if state.finished_at else ""
        problems = f" {len(state.report.problems)} file(s) not indexed: see the Documents tab." \
            if state.report.problems else ""
        return notice_html(f"Watching {corpus}. At {when}, for {_changes(state.last_changes)}: "
                           f"{_index_line(state.report)}{problems}", "info")
    return notice_html(f"Watching {corpus}: files added, changed or removed there are indexed without a command.",
                       "info")
