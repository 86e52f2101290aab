"""The chat in a real headless Chromium answers from a spreadsheet row and from a scanned page (issue 14).

`qa serve` with the real model over the seed corpus plus a workbook (tests/made_files.py) and a scanned PDF made
here (bench.common.make_scan, one page at 150 dpi); the answer's citation names the sheet and rows, or the page.
"""

from __future__ import annotations

import shutil

import pytest

from bench.common import make_scan
from tests import made_files
from tests.conftest import SEED_CORPUS
from tests.test_browser import ask, browser, css, network_hosts, open_page, serving  # noqa: F401 (browser: fixture)

pytestmark = [pytest.mark.slow, pytest.mark.browser,
              pytest.mark.skipif(shutil.which("tesseract") is None, reason="needs Debian's tesseract-ocr")]

SCANNED = ("Ferry timetable. The ferry to Vis island leaves Split harbour at noon every day in summer, and the "
           "crossing takes two hours and twenty minutes.")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve-formats")
    corpus, index = root / "corpus", root / "index"
    shutil.copytree(SEED_CORPUS, corpus)
    (corpus / "figures.xlsx").write_bytes(made_files.make_xlsx())
    (corpus / "ferry-scan.pdf").write_bytes(make_scan([SCANNED], noise=0.002))
    with serving(root, corpus, index) as url:
        yield url


def answer_of_last_result(driver) -> tuple[str, str]:
    """The answer sentence and its citation (source label · location) of the last answered question."""
    last = css(driver, "#qa-chat .qa-result")[-1]
    return (last.find_element("css selector", ".qa-answer-text").text,
            last.find_element("css selector", ".qa-cite").text)


def test_answers_from_a_spreadsheet_row_and_a_scanned_page(server, browser) -> None:  # noqa: F811
    open_page(browser, server)
    ask(browser, "What share of the population of Sudan was displaced?")
    text, cite = answer_of_last_result(browser)
    assert "Country: Sudan" in text and "22%" in text
    assert "figures.xlsx" in cite and "Displacement, rows 2-3" in cite
    ask(browser, "How long does the ferry crossing to Vis take?")
    text, cite = answer_of_last_result(browser)
    assert "two hours" in text and "ferry-scan.pdf" in cite and "p. 1" in cite
    assert network_hosts(browser) == {"127.0.0.1"}
