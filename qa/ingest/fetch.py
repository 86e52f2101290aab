"""Web pages into the corpus: fetch a page (or every page of a sitemap) once, keep its main text, save it as a file.

The page is read by the HTML reader (trafilatura's main text and metadata, ``readers.web``) and saved as Markdown
under ``<corpus>/web/<host>/<path>.md`` with its URL, title, site, date and the time it was fetched in front matter,
so that a rebuild of the index reads the saved file and never needs the network. Fetching the same URL again
replaces its file. The standard library's ``urllib`` fetches (nothing to install); only ``http`` and ``https``
addresses are fetched, each answer is read up to ``MAX_BYTES``, and a sitemap gives at most ``MAX_SITEMAP_PAGES``.

>>> saved_name("https://example.org/news/2024/grid-repairs.html?id=3")
'web/example.org/news-2024-grid-repairs-id-3.md'
"""

from __future__ import annotations

import datetime as dt
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

from qa.errors import UnreadableDocument
from qa.ingest.readers import Problem, read_document
from qa.records import Document

MAX_BYTES = 20 * 2**20
MAX_SITEMAP_PAGES = 500
TIMEOUT_S = 30
_USER_AGENT = "qa (local question answering; fetches only the pages it is given)"
_SITEMAP = re.compile(rb"<(urlset|sitemapindex)\b")
_LOC = re.compile(rb"<loc>\s*([^<\s]+)\s*</loc>")


@dataclass(frozen=True)
class Saved:
    """A page saved into the corpus: its address, the file (relative to the corpus) and its title."""

    url: str
    path: str
    title: str


def saved_name(url: str) -> str:
    """Where a page is saved, relative to the corpus: ``web/<host>/<path and query as one safe name>.md``."""
    parts = urllib.parse.urlsplit(url)
    stem = re.sub(r"\.(html?|php|aspx?)$", "", parts.path.strip("/"))
    name = re.sub(r"[^A-Za-z0-9]+", "-", f"{stem} {parts.query}").strip("-").lower()[:100] or "index"
    host = re.sub(r"[^A-Za-z0-9.-]+", "-", parts.hostname or "site")
    return f"web/{host}/{name}.md"


def add_urls(urls: list[str], corpus: Path) -> tuple[list[Saved], list[Problem]]:
    """Fetch each URL (a sitemap: each page it lists) and save it into ``corpus``; a page that fails is a problem."""
    saved: list[Saved] = []
    problems: list[Problem] = []
    for url in urls:
        try:
            body = _get(url)
            pages = _sitemap_pages(body) if _SITEMAP.search(body[:2048]) else None
            if pages is None:
                saved.append(_save(url, body, corpus))
                continue
            for page in pages:
                try:
                    saved.append(_save(page, _get(page), corpus))
                except UnreadableDocument as exc:
                    problems.append(Problem(page, str(exc)))
        except UnreadableDocument as exc:
            problems.append(Problem(url, str(exc)))
    return saved, problems


def _get(url: str) -> bytes:
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise UnreadableDocument(f"not a web address ({url}): give an http:// or https:// URL")
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310 (http/https only)
            body = response.read(MAX_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise UnreadableDocument(f"the server answered HTTP {exc.code} ({exc.reason}): check the address") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UnreadableDocument(f"could not fetch it ({reason}): check the address and the connection") from None
    if len(body) > MAX_BYTES:
        raise UnreadableDocument(f"the page is over {MAX_BYTES // 2**20} MB: save the part you need as a file")
    return body


def _sitemap_pages(body: bytes) -> list[str]:
    """The pages a sitemap lists (a sitemap index: the pages of each sitemap in it), at most MAX_SITEMAP_PAGES."""
    pages: list[str] = []
    index = _SITEMAP.search(body[:2048]).group(1) == b"sitemapindex"
    for loc in _LOC.findall(body):
        url = loc.decode("utf-8", errors="replace").replace("&amp;", "&")
        if index:
            pages.extend(_sitemap_pages(_get(url)))
        else:
            pages.append(url)
        if len(pages) >= MAX_SITEMAP_PAGES:
            break
    return pages[:MAX_SITEMAP_PAGES]


def _save(url: str, body: bytes, corpus: Path) -> Saved:
    rel = saved_name(url)
    doc = read_document(Path("page.html"), rel, body).documents[0]
    path = corpus / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_markdown(url, doc), encoding="utf-8")
    return Saved(url, rel, doc.title)


def _markdown(url: str, doc: Document) -> str:
    """Front matter the Markdown reader reads back (title, publisher, date, url) and the main text, the page's
    headings marked ``##`` so they stay sections."""
    text = doc.text
    for offset, _ in reversed(doc.sections):
        if not text.startswith("#", offset):
            text = f"{text[:offset]}## {text[offset:]}"
    meta = {"title": doc.title, "publisher": doc.publisher, "date": doc.date, "url": url,
            "fetched": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()}
    front = yaml.safe_dump({k: v for k, v in meta.items() if v}, allow_unicode=True, sort_keys=False)
    return f"---\n{front}---\n{text.rstrip()}\n"
