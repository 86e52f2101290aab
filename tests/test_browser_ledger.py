"""The Documents tab's ledger, "Why wasn't this found?" and `qa serve --watch`, in headless Chromium.

The server runs as users run it (`qa serve --watch --port 0`) with the fast hashing model, over a copy of the seed
corpus plus a scanned PDF and a spreadsheet, so the ledger has problems to show. The screenshots of the Documents
tab are saved to artifacts/watch.png (the watcher's line after a dropped file) and artifacts/ledger.png.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from urllib.parse import urlsplit

import pytest

from tests.conftest import REPO, SEED_CORPUS, Lines
from tests.test_browser import ARTIFACTS, browser, css, network_hosts, open_page, open_tab, wait_for  # noqa: F401
from tests.test_ledger import scanned_pdf

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def watched_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve-watch")
    corpus, index = root / "corpus", root / "index"
    shutil.copytree(SEED_CORPUS, corpus)
    (corpus / "scans").mkdir()
    (corpus / "scans" / "field-report.pdf").write_bytes(scanned_pdf())
    (corpus / "budget.numbers").write_bytes(b"PK\x03\x04 a spreadsheet")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1",
           "QA_MODEL": "hashing-64"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "qa", "serve", "--index", str(index), "--corpus", str(corpus), "--port", "0",
         "--watch", "--quiet-seconds", "0.5"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = Lines(proc.stdout)
    try:
        url = lines.until("the chat is at ", 120).split("the chat is at ", 1)[1].split()[0]
        assert urlsplit(url).hostname == "127.0.0.1"
        yield url, corpus
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def ledger_rows(driver) -> dict[str, list[str]]:
    """File -> the cells of its row in the ledger table, as the page holds them (the table is virtual: a row
    scrolled out of view has no visible text, so its text content is read)."""
    rows = {}
    for row in css(driver, "#qa-ledger div[role=row]"):
        cells = [cell.get_attribute("textContent").strip()
                 for cell in row.find_elements("css selector", "[role=gridcell]")]
        if len(cells) >= 3:
            rows[cells[1]] = cells
    return rows


def test_ledger_explain_and_watch_in_the_page(watched_server, browser) -> None:  # noqa: F811
    url, corpus = watched_server
    open_page(browser, url)
    open_tab(browser, "Documents")
    wait_for(browser, lambda d: len(ledger_rows(d)) == 4)
    rows = ledger_rows(browser)
    scan = rows["scans/field-report.pdf"]
    # A page of drawing: with Tesseract, OCR finds no text on it; without, the page says how to install it.
    status, reason = ("unreadable", "OCR found no text") if shutil.which("tesseract") else ("needs OCR", "apt-get")
    assert scan[0] == status and reason in scan[2] and scan[4] == "pdf"
    assert rows["budget.numbers"][0] == "skipped" and "unsupported file type" in rows["budget.numbers"][2]
    assert list(rows)[:2] == ["budget.numbers", "scans/field-report.pdf"]  # the problems first
    assert "2 not indexed whole" in css(browser, "#qa-ledger-note")[0].text

    # a file dropped into the corpus is noticed, indexed and listed without a command
    (corpus / "glaciers.md").write_text("# Glaciers\n\nGlaciers in the Alps lost a tenth of their ice in 2023.\n")
    wait_for(browser, lambda d: "glaciers.md" in ledger_rows(d), timeout=60)
    assert "for added glaciers.md" in css(browser, "#qa-watch")[0].text
    browser.execute_script("window.scrollTo(0, 0)")
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "watch.png"))
    assert ledger_rows(browser)["glaciers.md"][0] == "indexed"

    # a click on a row names the document for "Why wasn't this found?"
    row = next(row for row in css(browser, "#qa-ledger div[role=row]")
               if "glaciers.md" in row.get_attribute("textContent"))
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", row)
    row.find_elements("css selector", "[role=gridcell]")[1].click()
    wait_for(browser, lambda d: css(d, "#qa-why-doc textarea, #qa-why-doc input")[0].get_attribute("value")
             == "glaciers.md")
    css(browser, "#qa-why-question textarea, #qa-why-question input")[0].send_keys("How much ice did glaciers lose?")
    css(browser, "#qa-why")[0].click()
    wait_for(browser, lambda d: "shown at rank" in css(d, "#qa-why-out")[0].text)
    out = css(browser, "#qa-why-out")[0].text
    assert "dense" in out and "lexical" in out and "hybrid" in out and "No filter leaves it out." in out
    browser.execute_script("document.querySelector('#qa-ledger').scrollIntoView({block: 'start'})")
    browser.save_screenshot(str(ARTIFACTS / "ledger.png"))
    assert network_hosts(browser) <= {"127.0.0.1"}
