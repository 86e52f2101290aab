"""Pure: the document viewer's HTML, from what ``qa.serve.viewer`` returns.

A text document is shown as its text exactly as indexed (white space kept), cut into segments at every span and
heading boundary, each segment escaped and wrapped in a ``<span>`` naming what covers it, so marks never nest
badly and a document's markup is only ever text. A PDF is shown as its page images with the boxes laid over them
(``div``s placed in percent of the page: they scale with the image). The first segment or box of the passage on
show (of the answer sentence, when it is in that passage) has the id ``qa-view-target``, which the page scrolls
into view; the body scrolls inside its own ``div.qa-view-scroll``.

>>> print(segments_html("# Pears\\nThey grow.", [(8, 18, "passage"), (13, 17, "answer")], [(0, 7)]))
<span class="qa-h"># Pears</span>
<span class="qa-p">They </span><span class="qa-p qa-a" id="qa-view-target">grow</span><span class="qa-p">.</span>
"""

from __future__ import annotations

from html import escape
from typing import Any

MAX_VIEW_CHARS = 400_000  # a longer document is shown this much around the passage, with a note
_CLASS = {"passage": "qa-p", "answer": "qa-a", "heading": "qa-h"}


def segments_html(text: str, spans: list[tuple[int, int, str]], headings: list[tuple[int, int]],
                  lo: int = 0, hi: int | None = None) -> str:
    """``text[lo:hi]`` escaped, each part covered by a span or heading in a ``<span>`` with its classes."""
    hi = len(text) if hi is None else hi
    marks = [(s, e, kind) for s, e, kind in spans] + [(s, e, "heading") for s, e in headings]
    cuts = sorted({lo, hi, *(max(lo, min(hi, p)) for s, e, _ in marks for p in (s, e))})
    target = _target([(s, e) for s, e, kind in spans if kind == "passage"],
                     [(s, e) for s, e, kind in spans if kind == "answer"])
    parts = []
    for start, end in zip(cuts, cuts[1:], strict=False):
        kinds = [kind for s, e, kind in marks if s <= start and end <= e]
        body = escape(text[start:end])
        if not kinds:
            parts.append(body)
            continue
        classes = " ".join(_CLASS[kind] for kind in ("passage", "answer", "heading") if kind in kinds)
        anchor = ' id="qa-view-target"' if target is not None and start == target[0] else ""
        parts.append(f'<span class="{classes}"{anchor}>{body}</span>')
    return "".join(parts)


def _target(passages: list[tuple[int, int]], answers: list[tuple[int, int]]) -> tuple[int, int] | None:
    """What the viewer scrolls to: the answer sentence when it is inside the passage on show, else the passage."""
    if not passages:
        return None
    passage = passages[0]
    inside = [a for a in answers if passage[0] <= a[0] < passage[1]]
    return inside[0] if inside else passage


def heading_lines(view: dict[str, Any]) -> list[tuple[int, int]]:
    """The line each section heading starts, as ``(start, end)`` offsets into the text."""
    text = view["text"]
    lines = []
    for section in view["sections"]:
        start = section["start"]
        end = text.find("\n", start)
        lines.append((start, len(text) if end < 0 else end))
    return lines


def viewer_head_html(view: dict[str, Any], current: int, count: int) -> str:
    """The title bar: source label, file, which of the matched passages is on show."""
    span = view["spans"][0] if view["spans"] else None
    where = [escape(view["file"])]
    pages = sorted({box["page"] for box in span["boxes"]}) if span else []
    if len(pages) > 1:
        where.append(f"pp. {pages[0]}–{pages[-1]}")
    elif span and (pages or span["page"]):
        where.append(f"p. {pages[0] if pages else span['page']}")
    if span:
        where.append(f"chars {span['start']}–{span['end']}")
    return ('<div class="qa-view-head">'
            f'<div class="qa-view-title">{escape(view["source"])}</div>'
            f'<div class="qa-view-loc">{" · ".join(where)}</div>'
            f'<div class="qa-view-count">passage {current + 1} of {count} this question matched in it</div></div>')


def text_view_html(view: dict[str, Any]) -> str:
    """A text document with its passage shaded and its answer sentence marked."""
    text = view["text"]
    spans = [(s["start"], s["end"], s["kind"]) for s in view["spans"]]
    lo, hi, note = 0, len(text), ""
    if len(text) > MAX_VIEW_CHARS:
        middle = spans[0][0] if spans else 0
        lo = max(0, middle - MAX_VIEW_CHARS // 2)
        hi = min(len(text), lo + MAX_VIEW_CHARS)
        note = (f'<div class="qa-view-note">A long document: characters {lo:,}–{hi:,} of {len(text):,} are '
                "shown, around the passage.</div>")
    body = segments_html(text, spans, heading_lines(view), lo, hi)
    return f'<div class="qa-view-scroll">{note}<div class="qa-view-text">{body}</div></div>'


def pdf_view_html(view: dict[str, Any], pages: list[dict[str, Any]]) -> str:
    """The pages a passage is on, as images with its boxes over them."""
    parts = []
    if not view["boxed"]:
        parts.append('<div class="qa-view-note">This PDF was indexed before its word boxes were recorded: the '
                     "page is shown without them. Rebuild the index to box the passage.</div>")
    spans = {span["kind"]: (span["start"], span["end"]) for span in view["spans"]}
    target = _target([spans["passage"]] if "passage" in spans else [], [spans["answer"]] if "answer" in spans else [])
    target_kind = "answer" if target is not None and target == spans.get("answer") else "passage"
    target_done = False
    for page in pages:
        boxes = []
        for box in page["boxes"]:
            anchor = ""
            if box["kind"] == target_kind and not target_done:
                anchor, target_done = ' id="qa-view-target"', True
            style = (f"left:{box['x0'] * 100:.3f}%;top:{box['y0'] * 100:.3f}%;"
                     f"width:{(box['x1'] - box['x0']) * 100:.3f}%;height:{(box['y1'] - box['y0']) * 100:.3f}%")
            boxes.append(f'<div class="qa-box qa-box-{escape(box["kind"])}"{anchor} style="{style}"></div>')
        parts.append(f'<figure class="qa-page" data-page="{page["page"]}">'
                     f'<div class="qa-page-sheet"><img src="{page["image"]}" alt="page {page["page"]}" '
                     f'width="{page["width"]}" height="{page["height"]}">{"".join(boxes)}</div>'
                     f'<figcaption>page {page["page"]} of {page["pages"]}</figcaption></figure>')
    return f'<div class="qa-view-scroll">{"".join(parts)}</div>'
