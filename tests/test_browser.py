"""The chat in a real headless Chromium, against `qa serve` run as users run it (real model, seed corpus copy).

Every network request the page makes is recorded (Chrome's performance log) and must go to 127.0.0.1.
The screenshot of an answered question is saved to artifacts/chat.png.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import REPO, SEED_CORPUS, Lines

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ARTIFACTS = REPO / "artifacts"
S300 = "When did Russia withdraw its S-300 systems from Syria?"
ZEBRA_DOC = """---
title: Zebra migration in the Serengeti
publisher: Serengeti Field Notes
date: 2025-03-01
---
# Zebra migration

Every year about 200,000 zebras migrate 500 kilometres across the Serengeti and Masai Mara, following the rains
to fresh grass. Markup in a document is only text: <img src=x onerror="document.title='pwned'"> <b>not bold</b>.
"""


@contextmanager
def serving(root: Path, corpus: Path, index: Path) -> Iterator[str]:
    """`qa serve --port 0` (any free loopback port, named in what it prints) over ``corpus``, with the real model;
    the index is built at start. Yields the chat's address."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
    env.pop("QA_MODEL", None)
    log = (root / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "qa", "serve", "--index", str(index), "--corpus", str(corpus),
         "--port", "0"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=log, text=True,
    )
    lines = Lines(proc.stdout)  # read with a deadline, and drained while the server runs
    try:
        try:
            line = lines.until("the chat is at ", 240)
        except AssertionError as exc:
            raise AssertionError(f"qa serve did not start: {(root / 'serve.log').read_text()[-2000:]}") from exc
        url = line.split("the chat is at ", 1)[1].split()[0]
        assert urlsplit(url).hostname == "127.0.0.1" and urlsplit(url).port  # the port bound, not 0
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The chat over a fresh copy of the seed corpus: ``(address, corpus, index)``."""
    root = tmp_path_factory.mktemp("serve")
    corpus, index = root / "corpus", root / "index"
    shutil.copytree(SEED_CORPUS, corpus)
    with serving(root, corpus, index) as url:
        yield url, corpus, index


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.skip("Chromium or chromedriver missing: scripts/test.sh installs Debian's chromium and chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1400,1000",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def network_hosts(driver) -> set[str]:
    """Hosts of every http(s)/ws(s) request the browser made since the last call (chrome:// and data: excluded)."""
    hosts = set()
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] in ("Network.requestWillBeSent", "Network.webSocketCreated"):
            url = message["params"].get("request", {}).get("url") or message["params"].get("url", "")
            parts = urlsplit(url)
            if parts.scheme in ("http", "https", "ws", "wss"):
                hosts.add(parts.hostname)
    return hosts


def wait_for(driver, condition, timeout: float = 60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(condition)


def css(driver, selector: str):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def ask(driver, question: str) -> None:
    """Type a question, press Ask and wait until its answer (one more answered question) is in the chat."""
    answered = len(css(driver, "#qa-chat .qa-result"))
    box = wait_for(driver, lambda d: css(d, "#qa-question textarea"))[0]
    box.clear()
    box.send_keys(question)
    css(driver, "#qa-ask")[0].click()
    wait_for(driver, lambda d: len(css(d, "#qa-chat .qa-result")) > answered)


def open_tab(driver, name: str) -> None:
    from selenium.webdriver.common.by import By

    xpath = f"//button[@role='tab' and normalize-space()='{name}']"
    wait_for(driver, lambda d: d.find_elements(By.XPATH, xpath))[0].click()


def feedback_lines(index: Path) -> list[dict]:
    path = index / "feedback.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def open_page(driver, url: str) -> None:
    """A fresh page (a new session: an empty chat), with the requests of earlier tests left out of the next
    ``network_hosts``; the module's server is shared, so each test counts from what is there when it starts."""
    network_hosts(driver)
    driver.get(url)
    wait_for(driver, lambda d: any("documents ·" in head.text for head in css(d, "#qa-head")))  # index loaded


def documents_in_index(driver) -> int:
    """The number of documents the page's header names ("3 documents · 41 passages · …")."""
    return int(css(driver, "#qa-head")[0].text.split(" documents ·", 1)[0].split()[-1].replace(",", ""))


def passage_sources(driver) -> list[str]:
    """The source labels of the last answer's passages."""
    last = css(driver, "#qa-chat .qa-result")[-1]
    return [passage.find_element("css selector", ".qa-source").text
            for passage in last.find_elements("css selector", ".qa-passage")]


def test_question_shows_the_isw_passage_and_nothing_leaves_the_machine(server, browser) -> None:
    url, _, index = server
    open_page(browser, url)
    rated = len(feedback_lines(index))  # lines other tests saved
    ask(browser, S300)
    first = css(browser, "#qa-chat .qa-result")[0]
    top = first.find_elements("css selector", ".qa-passage")[0]
    assert "Institute for the Study of War · 2024-11-30" in top.find_element("css selector", ".qa-source").text
    assert "isw-2024-11-30-russia-iran-syria.md" in top.find_element("css selector", ".qa-loc").text
    assert "S-300" in top.get_attribute("textContent")  # folded text is in the page, if not on screen
    time.sleep(0.5)  # let the scroll to the new question settle
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "chat.png"))

    # A follow-up keeps the history: two questions, two answers.
    ask(browser, "Who did Belousov meet in Pyongyang?")
    assert len(css(browser, "#qa-chat .user-row")) == 2
    assert "Kim Jong Un" in css(browser, "#qa-chat .qa-result")[1].get_attribute("textContent")

    # An empty question is a message in the page, not a traceback, and adds nothing to the chat.
    css(browser, "#qa-ask")[0].click()
    wait_for(browser, lambda d: "the question is empty" in d.find_element("tag name", "body").text, 20)
    assert "Traceback" not in browser.page_source and len(css(browser, "#qa-chat .qa-result")) == 2
    assert not css(browser, "#qa-chat .error")  # a toast, the conversation stays in view

    # Thumbs up on the first answer, thumbs down on the second naming its right passage.
    css(browser, "#qa-chat button[aria-label='Like']")[0].click()
    wait_for(browser, lambda d: len(feedback_lines(index)) == rated + 1, 20)
    css(browser, "#qa-chat button[aria-label='Dislike']")[1].click()
    wait_for(browser, lambda d: css(d, "#qa-fix label") and css(d, "#qa-fix label")[0].is_displayed(), 20)
    css(browser, "#qa-fix label")[0].click()
    css(browser, "#qa-fix button")[0].click()
    wait_for(browser, lambda d: len(feedback_lines(index)) == rated + 3, 20)
    up, down, named = feedback_lines(index)[rated:]
    assert (up["question"], up["rating"]) == (S300, "up") and "Institute for the Study of War" in up["source"]
    assert (down["rating"], down["source"], named["id"]) == ("down", None, down["id"]) and named["source"]

    assert network_hosts(browser) == {"127.0.0.1"}


def test_upload_and_rebuild_from_the_page(server, browser, tmp_path: Path) -> None:
    url, corpus, _ = server
    open_page(browser, url)
    documents = documents_in_index(browser)  # the seed documents, and any other test added
    open_tab(browser, "Documents")
    wait_for(browser, lambda d: "Russia, Iran voice serious concern" in css(d, "#qa-info")[0].text)

    upload = tmp_path / "zebra-migration.md"
    upload.write_text(ZEBRA_DOC, encoding="utf-8")
    css(browser, "#qa-upload input[type=file]")[0].send_keys(str(upload))
    wait_for(browser, lambda d: f"Index: {documents + 1} documents" in css(d, "#qa-status")[0].text, 120)
    assert "Added to the corpus: zebra-migration.md" in css(browser, "#qa-status")[0].text
    assert (corpus / "zebra-migration.md").read_text(encoding="utf-8") == ZEBRA_DOC
    wait_for(browser, lambda d: "Zebra migration in the Serengeti" in css(d, "#qa-info")[0].text)

    # A file dropped into the corpus folder is picked up by "Rebuild index".
    (corpus / "glacier.txt").write_text("Glacier retreat\n\nAlpine glaciers lost a tenth of their ice in 2022.\n")
    css(browser, "#qa-rebuild")[0].click()
    wait_for(browser, lambda d: f"Index: {documents + 2} documents" in css(d, "#qa-status")[0].text, 120)

    open_tab(browser, "Ask")
    ask(browser, "How many zebras migrate across the Serengeti?")
    top = css(browser, "#qa-chat .qa-result")[-1].find_elements("css selector", ".qa-passage")[0]
    assert "Zebra migration in the Serengeti · Serengeti Field Notes · 2025-03-01" in top.text
    assert "<img src=x" in top.text and not top.find_elements("css selector", "img, b")  # shown, not run
    assert browser.title != "pwned"
    ask(browser, "How much ice did Alpine glaciers lose?")
    assert "glacier.txt" in css(browser, "#qa-chat .qa-result")[-1].find_elements("css selector", ".qa-loc")[0].text

    assert network_hosts(browser) == {"127.0.0.1"}


def test_the_source_filter_keeps_answers_to_the_source_picked(server, browser) -> None:
    from selenium.webdriver.common.by import By

    url = server[0]
    open_page(browser, url)
    ask(browser, S300)
    assert any("Institute for the Study of War" in source for source in passage_sources(browser))
    css(browser, "#qa-sources input")[0].click()
    wilson = "//li[contains(@class, 'item') and contains(normalize-space(), '· Wilson Center')]"
    wait_for(browser, lambda d: d.find_elements(By.XPATH, wilson))[0].click()
    ask(browser, S300)
    sources = passage_sources(browser)
    assert sources and all("Wilson Center" in source for source in sources), sources
    assert network_hosts(browser) == {"127.0.0.1"}


def test_the_date_filter_leaves_out_documents_dated_outside_it_and_undated_ones(server, browser) -> None:
    url = server[0]
    open_page(browser, url)
    question = "How many people are forcibly displaced?"
    ask(browser, question)
    assert any("Wilson Center" in source for source in passage_sources(browser))  # undated
    date_from, date_to = css(browser, "#qa-dates input")
    date_from.send_keys("2024-11")
    date_to.send_keys("2024-11-30")
    ask(browser, question)
    sources = passage_sources(browser)
    assert sources and all("· 2024-11-30" in source for source in sources), sources


def test_new_conversation_empties_the_chat_and_closes_the_fix_box(server, browser) -> None:
    from selenium.webdriver.common.by import By

    url, _, index = server
    open_page(browser, url)
    ask(browser, S300)
    ask(browser, "Who did Belousov meet in Pyongyang?")
    css(browser, "#qa-chat button[aria-label='Dislike']")[1].click()
    wait_for(browser, lambda d: css(d, "#qa-fix label") and css(d, "#qa-fix label")[0].is_displayed(), 20)
    browser.find_element(By.XPATH, "//button[normalize-space()='New conversation']").click()
    wait_for(browser, lambda d: not css(d, "#qa-chat .user-row"), 20)
    assert not css(browser, "#qa-chat .qa-result") and "Ask a question about your documents" in css(
        browser, "#qa-chat")[0].text
    assert not css(browser, "#qa-fix") or not css(browser, "#qa-fix")[0].is_displayed()
    # The next question starts a new conversation: one question, and its own answer is the one rated.
    rated = len(feedback_lines(index))
    ask(browser, S300)
    assert len(css(browser, "#qa-chat .user-row")) == 1
    css(browser, "#qa-chat button[aria-label='Like']")[0].click()
    wait_for(browser, lambda d: len(feedback_lines(index)) == rated + 1, 20)
    assert feedback_lines(index)[-1]["question"] == S300


def test_a_follow_up_is_searched_as_resolved_and_the_search_can_be_corrected(server, browser) -> None:
    url = server[0]
    open_page(browser, url)
    ask(browser, "Who did Lavrov speak with on the phone?")
    assert not css(browser, "#qa-chat .qa-searched-as")  # a question that stands alone is searched as asked
    ask(browser, "What did they discuss?")
    shown = css(browser, "#qa-chat .user-row")[1].find_element("css selector", ".qa-searched-as").text
    assert shown == "searched as: What did they discuss? Lavrov"
    answer = css(browser, "#qa-chat .qa-result")[1].find_element("css selector", ".qa-answer").text
    assert "Lavrov and Fidan reportedly discussed" in answer
    box = css(browser, "#qa-searched-as textarea")[0]
    assert box.get_attribute("value") == shown.removeprefix("searched as: ")

    # Corrected and searched again: the same question, answered from what the person wrote, in its place.
    box.clear()
    box.send_keys("What did Belousov and Kim discuss?")
    css(browser, "#qa-search-instead")[0].click()
    wait_for(browser, lambda d: "Belousov and Kim" in css(d, "#qa-chat .user-row")[-1].text)
    assert len(css(browser, "#qa-chat .user-row")) == 2
    wait_for(browser, lambda d: "strategic partnership" in css(d, "#qa-chat .qa-result")[1].text)

    # The same follow-up asked as a new topic is searched alone.
    box = css(browser, "#qa-question textarea")[0]
    box.send_keys("What did they discuss?")
    css(browser, "#qa-new-topic")[0].click()
    wait_for(browser, lambda d: len(css(d, "#qa-chat .qa-result")) == 3)
    assert not css(browser, "#qa-chat .user-row")[2].find_elements("css selector", ".qa-searched-as")
    assert css(browser, "#qa-searched-as textarea")[0].get_attribute("value") == "What did they discuss?"
    assert network_hosts(browser) == {"127.0.0.1"}
