"""`qa add URL`: pages and sitemaps fetched from an HTTP server this test starts on 127.0.0.1, saved, indexed, and
rebuilt with the server gone."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from qa.ingest import fetch
from qa.ingest.readers import read_path
from qa.serve.cli import main

PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>Grid repairs | Kharkiv Daily</title>
<meta property="og:site_name" content="Kharkiv Daily"><meta name="date" content="2024-12-03"></head><body>
<nav>Home | About | Contact</nav><article><h1>Grid repairs</h1><p>Kharkiv's substation was hit on Tuesday night.
Engineers said that the repairs would take three weeks, and the city ran generators for its hospitals.</p>
<h2>Figures</h2><table><tr><th>District</th><th>Homes without power</th></tr><tr><td>Saltivka</td><td>12,000</td>
</tr></table></article><footer>Copyright Kharkiv Daily</footer></body></html>"""
OTHER = PAGE.replace("Grid repairs", "Water supply").replace("substation", "pumping station")
SITEMAP = """<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>{base}/news/grid.html</loc></url><url><loc>{base}/news/water.html</loc></url>
<url><loc>{base}/gone.html</loc></url></urlset>"""


@pytest.fixture
def site() -> Iterator[str]:
    """A web site on 127.0.0.1 (any free port): two pages, a sitemap listing them and a page that is gone."""
    pages: dict[str, bytes] = {"/news/grid.html": PAGE.encode(), "/news/water.html": OTHER.encode()}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
            body = pages.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "application/xml" if self.path.endswith(".xml") else "text/html")
            self.end_headers()
            self.wfile.write(body or b"not found")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    base = f"http://127.0.0.1:{server.server_port}"
    pages["/sitemap.xml"] = SITEMAP.format(base=base).encode()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base
    server.shutdown()
    server.server_close()


def test_a_page_is_saved_with_front_matter_indexed_and_rebuilt_offline(site: str, tmp_path: Path, capsys,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_MODEL", "hashing-64")
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    assert main(["add", f"{site}/news/grid.html", "--corpus", str(corpus), "--index", str(index), "-q"]) == 0
    saved = corpus / "web" / "127.0.0.1" / "news-grid.md"
    assert f"Saved {site}/news/grid.html as {saved} (Grid repairs)" in capsys.readouterr().out
    doc = read_path(saved, "news-grid.md").documents[0]
    assert (doc.title, doc.publisher, doc.date, doc.url) == ("Grid repairs", "Kharkiv Daily", "2024-12-03",
                                                            f"{site}/news/grid.html")
    assert "Home | About" not in doc.text and "Copyright" not in doc.text  # the main text only
    assert "District: Saltivka; Homes without power: 12,000" in doc.text and doc.section_at(
        doc.text.index("Saltivka")) == "Figures"
    assert main(["ask", "How long will the repairs take?", "--index", str(index), "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)["answer"]
    assert "three weeks" in answer["text"] and answer["file"] == "web/127.0.0.1/news-grid.md"
    monkeypatch.setattr(fetch, "_get", None)  # any fetch now fails; a rebuild must not try one
    assert main(["index", "--full", "--corpus", str(corpus), "--index", str(index), "-q"]) == 0


def test_a_sitemap_adds_its_pages_and_lists_the_one_that_fails(site: str, tmp_path: Path, capsys,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_MODEL", "hashing-64")
    corpus = tmp_path / "corpus"
    assert main(["add", f"{site}/sitemap.xml", "--corpus", str(corpus), "--no-index"]) == 0
    captured = capsys.readouterr()
    assert sorted(p.name for p in (corpus / "web" / "127.0.0.1").iterdir()) == ["news-grid.md", "news-water.md"]
    assert f"Could not add {site}/gone.html: the server answered HTTP 404" in captured.err


@pytest.mark.parametrize(("url", "reason"), [
    ("file:///etc/passwd", "not a web address"),
    ("http://127.0.0.1:9/", "could not fetch it"),
])
def test_bad_addresses_are_one_line(url: str, reason: str, tmp_path: Path, capsys) -> None:
    assert main(["add", url, "--corpus", str(tmp_path / "corpus"), "--no-index"]) == 1
    err = capsys.readouterr().err
    assert reason in err and err.strip().splitlines()[-1].startswith("qa: error: no page was added")
