"""The document viewer in a real headless Chromium, against `qa serve` over a PDF and a Markdown file made here.

A PDF answer opens on its page with the answer sentence boxed where pypdfium2 reports its glyphs; a Markdown answer
opens with the sentence marked and in view, and the document's markup shown as text. Screenshots of both go to
artifacts/viewer-pdf.png and artifacts/viewer-markdown.png. The server uses the hashing embedder (QA_MODEL), so
it starts in seconds; what is tested is the page, not the model.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from urllib.parse import urlsplit

import pytest

from tests import test_browser
from tests.conftest import REPO, Lines
from tests.pdfs import column, write_pdf
from tests.test_browser import ARTIFACTS, css, network_hosts, open_page, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.browser]
browser = test_browser.browser  # the same headless Chromium fixture

PEAR_SENTENCE = "The Kestrel orchard planted 4,200 pear trees in 2019."
PDF_PAGES = [
    column(72, ["Kestrel Orchard annual report.", "Page one is about the weather in spring.",
                "Rain fell on most days of April."]),
    column(72, ["Page two is about the trees.", "Apples remain the main crop of the valley.",
                PEAR_SENTENCE, "Plums were not planted at all."]),
    column(72, ["Page three is about the accounts.", "The farm shop sold jam and cider."]),
]
GLACIER_SENTENCE = "The Vatnajokull glacier lost 12 cubic kilometres of ice in 2023."
FILLER = ("Surveyors walked the ice margin with GPS receivers and drones, and their notes about the glacier "
          "fill many pages of the field book. ")


def glacier_markdown() -> str:
    parts = ["---\ntitle: Glacier survey notes\npublisher: Ice Field Office\n---\n# Glacier survey\n\n"]
    for number in range(1, 9):
        parts.append(f"## Day {number}\n\n{FILLER * 3}\n\n")
    parts.append(f"## Findings\n\n{GLACIER_SENTENCE} Markup is text: <img src=x onerror=\"alert(1)\"> <b>no</b>.\n\n")
    parts.append(f"## Later\n\n{FILLER * 3}\n")
    return "".join(parts)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("viewer")
    corpus, index = root / "corpus", root / "index"
    corpus.mkdir()
    (corpus / "kestrel-orchard.pdf").write_bytes(write_pdf(PDF_PAGES, title="Kestrel Orchard annual report",
                                                           author="Kestrel Farms"))
    (corpus / "glacier.md").write_text(glacier_markdown())
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1",
           "QA_MODEL": "hashing-64"}
    log = (root / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "qa", "serve", "--index", str(index), "--corpus", str(corpus),
                             "--port", "0"], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=log, text=True)
    lines = Lines(proc.stdout)
    try:
        try:
            line = lines.until("the chat is at ", 120)
        except AssertionError as exc:
            raise AssertionError(f"qa serve did not start: {(root / 'serve.log').read_text()[-2000:]}") from exc
        url = line.split("the chat is at ", 1)[1].split()[0]
        assert urlsplit(url).hostname == "127.0.0.1"
        yield url, corpus
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def ask_and_open_answer(driver, question: str) -> None:
    box = wait_for(driver, lambda d: css(d, "#qa-question textarea"))[0]
    box.clear()
    box.send_keys(question)
    css(driver, "#qa-ask")[0].click()
    link = wait_for(driver, lambda d: css(d, "#qa-chat .qa-answer a.qa-open"))[0]
    link.click()


def glyph_box(pdf_bytes: bytes, page: int, sentence: str) -> tuple[float, float, float, float]:
    """The union of the glyph boxes pypdfium2 reports for ``sentence`` on ``page``, in fractions of the page."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(pdf_bytes)
    handle = pdf[page - 1]
    width, height = handle.get_size()
    textpage = handle.get_textpage()
    searcher = textpage.search(sentence)
    start, count = searcher.get_next()
    boxes = [textpage.get_charbox(i) for i in range(start, start + count)]
    boxes = [b for b in boxes if b[2] > b[0]]  # spaces have no width
    left, bottom = min(b[0] for b in boxes), min(b[1] for b in boxes)
    right, top = max(b[2] for b in boxes), max(b[3] for b in boxes)
    pdf.close()
    return left / width, 1 - top / height, right / width, 1 - bottom / height


def rect_in(driver, element, container) -> tuple[float, float, float, float]:
    """``element``'s rectangle as fractions of ``container``'s."""
    e, c = (driver.execute_script("const r = arguments[0].getBoundingClientRect();"
                                  "return [r.left, r.top, r.right, r.bottom];", x) for x in (element, container))
    width, height = c[2] - c[0], c[3] - c[1]
    return (e[0] - c[0]) / width, (e[1] - c[1]) / height, (e[2] - c[0]) / width, (e[3] - c[1]) / height


def test_a_pdf_answer_opens_on_its_page_with_the_sentence_boxed(server, browser) -> None:
    url, corpus = server
    open_page(browser, url)
    ask_and_open_answer(browser, "How many pear trees did the Kestrel orchard plant?")
    answer_boxes = wait_for(browser, lambda d: css(d, "#qa-viewer-body .qa-box-answer"))
    assert PEAR_SENTENCE in css(browser, "#qa-chat .qa-answer")[0].text
    (box,) = answer_boxes
    page = box.find_element("xpath", "ancestor::figure[contains(@class, 'qa-page')]")
    assert page.get_attribute("data-page") == "2"  # the sentence's page (the passage runs over all three)
    shown = rect_in(browser, box, page.find_element("css selector", "img"))
    glyphs = glyph_box((corpus / "kestrel-orchard.pdf").read_bytes(), 2, PEAR_SENTENCE)
    slack = 3 / 612  # three points
    assert shown[0] <= glyphs[0] + slack and shown[1] <= glyphs[1] + slack  # the box holds every glyph
    assert shown[2] >= glyphs[2] - slack and shown[3] >= glyphs[3] - slack
    assert shown[0] >= glyphs[0] - slack and shown[2] <= glyphs[2] + slack  # and runs no further along the line
    assert (shown[3] - shown[1]) < 2.5 * (glyphs[3] - glyphs[1])  # one line high
    assert "passage 1 of" in css(browser, "#qa-viewer-head")[0].text
    time.sleep(0.5)
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "viewer-pdf.png"))
    css(browser, "#qa-view-close")[0].click()
    hidden = "const v = document.querySelector('#qa-viewer'); return !v || v.offsetParent === null;"
    wait_for(browser, lambda d: d.execute_script(hidden), 20)  # (the element goes: no stale reference to it)
    assert css(browser, "#qa-side")[0].is_displayed()  # the search options are back
    assert network_hosts(browser) == {"127.0.0.1"}


def test_a_markdown_answer_opens_with_the_sentence_marked_in_view(server, browser) -> None:
    url, _ = server
    open_page(browser, url)
    ask_and_open_answer(browser, "How much ice did the Vatnajokull glacier lose in 2023?")
    marked = wait_for(browser, lambda d: css(d, "#qa-viewer-body .qa-view-text .qa-a"))
    assert GLACIER_SENTENCE in "".join(m.get_attribute("textContent") for m in marked)
    time.sleep(0.6)  # the scroll to the passage
    panel = css(browser, "#qa-viewer-body")[0]
    top, bottom = browser.execute_script("const p = arguments[0].getBoundingClientRect(), "
                                         "m = arguments[1].getBoundingClientRect(); return [m.top - p.top, "
                                         "p.bottom - m.bottom];", panel, marked[0])
    assert top >= 0 and bottom >= 0, "the answer sentence is scrolled out of the viewer"
    text = css(browser, "#qa-viewer-body .qa-view-text")[0]
    assert "<img src=x" in text.text and not text.find_elements("css selector", "img, b")  # markup is text
    assert [h.text for h in text.find_elements("css selector", ".qa-h")][:2] == ["# Glacier survey", "## Day 1"]
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "viewer-markdown.png"))

    shown, count = (int(n) for n in
                    css(browser, "#qa-viewer-head")[0].text.split("passage ", 1)[1].split(" this")[0].split(" of "))
    assert count > 1  # the question's words are in several passages of the notes
    css(browser, "#qa-view-next")[0].click()
    following = shown % count + 1
    wait_for(browser, lambda d: f"passage {following} of" in css(d, "#qa-viewer-head")[0].text, 20)
    css(browser, "#qa-view-prev")[0].click()
    wait_for(browser, lambda d: f"passage {shown} of" in css(d, "#qa-viewer-head")[0].text, 20)
    assert network_hosts(browser) == {"127.0.0.1"}
