"""The README's code blocks, run as written against the seed corpus, so a documented example cannot silently stop
working: the Python section (fast embedder here, the real model in the slow test), and the command-line synopsis
checked option by option against the parser.

Not run here: ``scripts/run.sh`` (it serves until stopped) and the API examples (``gradio_client``, ``curl``), which
need a running server.
"""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import pytest

from qa.serve.cli import build_parser
from tests.conftest import REPO, SEED_CORPUS

README = (REPO / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"^```(\w+)\n(.*?)^```", README, flags=re.S | re.M)


def python_section() -> str:
    section = README.split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
    [(language, code)] = re.findall(r"^```(\w+)\n(.*?)^```", section, flags=re.S | re.M)
    assert language == "python"
    return code


def run_example(code: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Run ``code`` statement by statement in ``folder`` (holding corpus/); every ``ask`` result must have passages.
    Returns the source of each ``ask`` checked."""
    shutil.copytree(SEED_CORPUS, folder / "corpus")
    monkeypatch.chdir(folder)
    namespace: dict = {}
    asked = []
    for node in ast.parse(code).body:
        source = ast.get_source_segment(code, node)
        if isinstance(node, ast.Expr):
            value = eval(compile(ast.Expression(node.value), "README.md", "eval"), namespace)
            if hasattr(value, "passages"):
                assert value.passages, f"the README example returns no passages: {source}"
                asked.append(source)
        else:
            exec(compile(ast.Module([node], []), "README.md", "exec"), namespace)
    return asked


def test_the_python_example_runs_and_every_ask_finds_passages(tmp_path: Path, monkeypatch) -> None:
    code = python_section().replace("SentenceTransformerEmbedder()", "HashingEmbedder(64)").replace(
        "import SentenceTransformerEmbedder", "import HashingEmbedder")
    asked = run_example(code, tmp_path, monkeypatch)
    assert len(asked) == python_section().count(".ask(") - 1  # each bare ask call, not the assignment


@pytest.mark.slow
def test_the_python_example_runs_as_written_with_the_real_model(tmp_path: Path, monkeypatch) -> None:
    run_example(python_section(), tmp_path, monkeypatch)


def test_every_option_in_the_command_line_synopsis_exists() -> None:
    [synopsis] = [code for language, code in BLOCKS if language == "bash" and code.startswith("qa index")]
    commands = {}
    for action in build_parser()._subparsers._group_actions[0].choices.items():
        name, parser = action
        commands[name] = {flag for a in parser._actions for flag in a.option_strings}
    command = None
    for line in synopsis.splitlines():
        words = line.split("#", 1)[0].split()
        if words and words[0] == "qa":
            command = words[1]
        options = set(re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", " ".join(words)))
        assert options <= commands[command], (command, options - commands[command])
    assert command == "eval"


def test_scripts_named_in_the_readme_exist() -> None:
    for name in set(re.findall(r"\bscripts/[\w.-]+\.sh\b", README)):
        assert (REPO / name).is_file(), name


def heading_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives a document's headings: lower case, punctuation dropped, spaces as hyphens.

    >>> sorted(heading_anchors("## A build on a Ray cluster (issue 11)\\n### What the figures mean"))
    ['a-build-on-a-ray-cluster-issue-11', 'what-the-figures-mean']
    """
    headings = re.findall(r"^#+ (.+)$", markdown, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def test_every_link_into_a_document_s_section_finds_that_section() -> None:
    """A section cut or renamed must take its links with it (one edit once cut eight sections of benchmarks.md
    with no test failing)."""
    documents = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    links = [(source, target, anchor) for source in documents
             for target, anchor in re.findall(r"\]\(([\w/.-]*\.md)?#([\w-]+)\)", source.read_text(encoding="utf-8"))]
    assert links
    for source, target, anchor in links:
        linked = (source.parent / target) if target else source
        assert anchor in heading_anchors(linked.read_text(encoding="utf-8")), (source.name, target, anchor)
