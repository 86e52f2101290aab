"""HTML pages: the main text only, without navigation, scripts, styles, headers or footers.

trafilatura is the maintained, benchmarked choice for main-content extraction (boilerplate removal) and
also reads the page's metadata: title, site name (our publisher), publication date (via htmldate) and
canonical URL. Tables are rewritten first as one paragraph per row, each read with its header row
(``"Country: Syria; Displaced: 6.8 million"``), so a row keeps the names of its columns. On a tiny page it may
find no "main" text at all; then we fall back to lxml's text of ``<body>`` minus the obvious boilerplate elements,
so a short page still gets indexed.
"""

from __future__ import annotations

import re
from pathlib import Path

import lxml.etree
import lxml.html
import trafilatura

from qa.errors import UnreadableDocument
from qa.ingest.readers.base import READ_DEFAULTS, ReadOptions, ReadResult, clean_title, first_line, quiet, require_text
from qa.ingest.readers.tables import keyed_rows
from qa.ingest.readers.text import decode_text
from qa.records import Document

_BOILERPLATE = ("script", "style", "nav", "header", "footer", "noscript", "template", "aside", "form")
_BLOCKS = (
    "p",
    "div",
    "li",
    "tr",
    "br",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "section",
    "article",
    "pre",
    "td",
    "th",
)
# never main content; pruned before trafilatura too, whose recall fallback on short pages keeps everything
_PRUNE = ["//nav", "//script", "//style", "//noscript", "//template"] + [
    f"//{tag}[not(ancestor::article or ancestor::main)]" for tag in ("header", "footer", "aside")
]
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def read_html(path: Path, rel: str, data: bytes, options: ReadOptions = READ_DEFAULTS) -> ReadResult:
    page = _parse(require_text(decode_text(data), "empty or whitespace only"))
    _tables_as_rows(page)
    with quiet("trafilatura", "htmldate", "courlan"):
        extracted = trafilatura.bare_extraction(
            page, with_metadata=True, include_comments=False, favor_recall=True, prune_xpath=_PRUNE
        )
        meta = extracted if extracted is not None else trafilatura.extract_metadata(page)
    text = extracted.text if extracted is not None and extracted.text else ""
    sections: tuple[tuple[int, str], ...] = ()
    if text.strip():
        sections = _find_headings(text, extracted.body)
    else:
        text = _body_text(page)
    require_text(text, "the page has no visible text")
    title = clean_title(meta.title) or clean_title(page.findtext(".//title")) or first_line(text)
    document = Document(
        doc_id=rel,
        path=rel,
        text=text,
        title=title,
        publisher=clean_title(meta.sitename),
        date=clean_title(meta.date),
        url=clean_title(meta.url),
        sections=sections,
    )
    return ReadResult((document,))


def main_text(markup: str) -> str:
    """The main text of an HTML fragment or page (an HTML mail, an e-book chapter), as ``read_html`` finds it.

    >>> main_text("<html><body><nav>Menu</nav><p>Apples grow on trees.</p></body></html>")
    'Apples grow on trees.'
    """
    page = _parse(markup)
    _tables_as_rows(page)
    with quiet("trafilatura", "htmldate", "courlan"):
        text = trafilatura.extract(page, include_comments=False, favor_recall=True, prune_xpath=_PRUNE)
    return text if text and text.strip() else _body_text(page)


def _tables_as_rows(page: lxml.html.HtmlElement) -> None:
    """Replace each innermost ``<table>`` by one paragraph per row read with its header (``tables.keyed_rows``),
    before extraction: trafilatura would write the cells as a run of text, which loses their columns."""
    for table in list(page.iter("table")):
        if table.find(".//table") is not None:  # a layout table holding tables: its inner tables are the data
            continue
        rows = [[" ".join(cell.text_content().split()) for cell in row.iter("th", "td")]
                for row in table.iter("tr")]
        replacement = lxml.html.Element("div")
        for line in keyed_rows(rows):
            paragraph = lxml.html.Element("p")
            paragraph.text = line
            replacement.append(paragraph)
        replacement.tail = table.tail
        parent = table.getparent()
        if parent is not None:
            parent.replace(table, replacement)


def _parse(markup: str) -> lxml.html.HtmlElement:
    markup = _NOT_XML.sub("", markup)
    try:
        try:
            return lxml.html.document_fromstring(markup)
        except ValueError:  # a str that declares its own encoding: let lxml read it as bytes
            return lxml.html.document_fromstring(markup.encode("utf-8"), lxml.html.HTMLParser(encoding="utf-8"))
    except (lxml.etree.ParserError, ValueError) as exc:
        raise UnreadableDocument(f"cannot parse the HTML ({exc}): re-save the page or remove it") from None


def _body_text(page: lxml.html.HtmlElement) -> str:
    """Visible text of ``<body>`` without boilerplate elements, one line per block."""
    body = page.find(".//body")
    if body is None:
        body = page
    for element in list(body.iter(*_BOILERPLATE)):
        element.drop_tree()
    for element in body.iter(*_BLOCKS):
        element.tail = "\n" + (element.tail or "")
    lines = (" ".join(line.split()) for line in body.text_content().splitlines())
    return "\n".join(line for line in lines if line)


def _find_headings(text: str, body: lxml.etree._Element | None) -> tuple[tuple[int, str], ...]:
    """``(line offset, heading)`` for trafilatura's ``<head>`` elements, found in order in its text output."""
    sections = []
    cursor = 0
    for head in body.iter("head") if body is not None else ():
        heading = " ".join("".join(head.itertext()).split())
        found = text.find(heading, cursor) if heading else -1
        if found >= 0:
            line_start = text.rfind("\n", 0, found) + 1
            sections.append((line_start, heading[:150]))
            cursor = found + len(heading)
    return tuple(sections)
