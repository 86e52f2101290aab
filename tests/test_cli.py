"""The `qa` command end to end, in-process (fast embedder) and once as a real subprocess."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qa.serve.cli import main


@pytest.fixture
def fast_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_MODEL", "hashing-64")


def test_index_then_ask_json(small_corpus: Path, tmp_path: Path, fast_model, capsys) -> None:
    index = tmp_path / "index"
    assert main(["index", "--corpus", str(small_corpus), "--index", str(index), "-q"]) == 0
    out = capsys.readouterr().out
    assert "Indexed 3 documents" in out and "3 added" in out and "embedded" in out
    assert main(["ask", "Which sea does the Danube end in?", "--index", str(index), "-k", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["question"] == "Which sea does the Danube end in?"
    assert data["answer"]["text"] == "It ends in the Black Sea." and data["answer"]["file"] == "rivers.txt"
    assert len(data["passages"]) == 2 and data["passages"][0]["file"] == "rivers.txt"


def test_environment_sets_default_paths(small_corpus: Path, tmp_path: Path, fast_model, monkeypatch, capsys) -> None:
    monkeypatch.setenv("QA_CORPUS", str(small_corpus))
    monkeypatch.setenv("QA_INDEX", str(tmp_path / "env-index"))
    assert main(["index", "-q"]) == 0
    assert main(["ask", "neutron star"]) == 0
    out = capsys.readouterr().out
    assert "[1] Stars" in out and "stars.txt" in out


def test_second_index_reports_reuse(small_corpus: Path, tmp_path: Path, fast_model, capsys) -> None:
    args = ["index", "--corpus", str(small_corpus), "--index", str(tmp_path / "i"), "-q", "--json"]
    main(args)
    capsys.readouterr()
    main(args)
    report = json.loads(capsys.readouterr().out)
    assert report["chunks_embedded"] == 0 and report["chunks_reused"] == report["chunks"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ask", "anything", "--index", "{tmp}/none"], "no index in"),
        (["ask", "   ", "--index", "{index}"], "question is empty"),
        (["ask", "apples", "-k", "0", "--index", "{index}"], "k=0 is out of range"),
        (["ask", "apples", "-k", "lots", "--index", "{index}"], "whole number"),
        (["index", "--corpus", "{tmp}/no-corpus", "--index", "{index}"], "corpus folder not found"),
    ],
)
def test_errors_are_one_line_with_exit_1(argv, message, small_corpus: Path, tmp_path: Path, fast_model,
                                         capsys) -> None:
    index = tmp_path / "index"
    main(["index", "--corpus", str(small_corpus), "--index", str(index), "-q"])
    capsys.readouterr()
    argv = [a.format(tmp=tmp_path, index=index) for a in argv]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("qa: error: ") and message in err and err.count("\n") == 1


def test_help_and_usage_errors() -> None:
    for argv in (["--help"], ["index", "--help"], ["ask", "--help"]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 0
    with pytest.raises(SystemExit) as exit_info:
        main(["frobnicate"])
    assert exit_info.value.code == 2


def test_python_dash_m_qa_runs_without_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "QA_MODEL": "hashing-64"}
    proc = subprocess.run([sys.executable, "-m", "qa", "ask", "hello", "--index", str(tmp_path / "none")],
                          capture_output=True, text=True, env=env, cwd=Path(__file__).parent.parent, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and "qa index" in proc.stderr


def test_full_rebuilds_every_document_from_the_cache(small_corpus: Path, tmp_path: Path, fast_model, capsys) -> None:
    args = ["index", "--corpus", str(small_corpus), "--index", str(tmp_path / "i"), "-q", "--json"]
    main(args)
    first = json.loads(capsys.readouterr().out)
    main(args)
    incremental = json.loads(capsys.readouterr().out)
    assert (incremental["unchanged"], incremental["generation"]) == (3, first["generation"])
    main([*args, "--full"])
    full = json.loads(capsys.readouterr().out)
    assert full["added"] == sorted(first["added"]) and full["unchanged"] == 0
    assert full["generation"] != first["generation"]
    assert full["chunks_embedded"] == 0 and full["chunks_reused"] == full["chunks"]  # the cache outlives --full


@pytest.mark.parametrize("kind", ["hnsw", "ivf", "flat"])
def test_index_kind_option_reaches_the_manifest(kind: str, small_corpus: Path, tmp_path: Path, fast_model,
                                                capsys) -> None:
    from qa.index import store

    index = tmp_path / "index"
    assert main(["index", "--corpus", str(small_corpus), "--index", str(index), "-q", "--index-kind", kind]) == 0
    entry = store.load(index).manifest.index
    assert (entry.spec.kind, entry.requested) == (kind, kind)


@pytest.mark.parametrize(
    ("option", "message"),
    [(["--variant", "bogus"], "unknown embedding variant 'bogus': use auto or one of torch-fp32"),
     (["--device", "tpu"], "unknown device 'tpu': use auto, cpu or cuda")],
)
def test_variant_and_device_options_are_checked(option: list[str], message: str, small_corpus: Path,
                                                tmp_path: Path, capsys) -> None:
    """With the packaged model (no QA_MODEL): the options reach the embedder, which refuses a bad value in one line."""
    assert main(["index", "--corpus", str(small_corpus), "--index", str(tmp_path / "i"), "-q", *option]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"qa: error: {message}") and err.count("\n") == 1, err
    assert not (tmp_path / "i" / "CURRENT").exists()


@pytest.mark.parametrize(
    ("error", "status", "message"),
    [(RuntimeError("boom"), 1, "qa: error: unexpected RuntimeError: boom (a bug in qa: please report it)\n"),
     (KeyboardInterrupt(), 130, "qa: interrupted; the index was left as it was\n"),
     (OSError(errno.EIO, "Input/output error", "/x/index"), 1,
      "qa: error: Input/output error (/x/index): check the path, its permissions and free space\n")],
    ids=["unexpected", "interrupted", "oserror"],
)
@pytest.mark.parametrize("command", ["index", "ask"])
def test_no_traceback_reaches_the_user(command: str, error: BaseException, status: int, message: str,
                                       small_corpus: Path, tmp_path: Path, fast_model, monkeypatch, capsys) -> None:
    """Whatever goes wrong inside a command, and Ctrl+C: one line on stderr, a status, nothing on stdout."""
    from qa.assistant import Assistant

    index = tmp_path / "index"
    main(["index", "--corpus", str(small_corpus), "--index", str(index), "-q"])
    capsys.readouterr()

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr("qa.index.build.build_index", fail)
    monkeypatch.setattr(Assistant, "ask", fail)
    argv = {"index": ["index", "--corpus", str(small_corpus), "--index", str(index), "-q"],
            "ask": ["ask", "Danube", "--index", str(index)]}[command]
    assert main(argv) == status
    out, err = capsys.readouterr()
    assert (out, err) == ("", message)


def test_ask_after_earlier_questions(tmp_path: Path, fast_model, capsys) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "lyon.txt").write_text("Lyon\n\nLyon was founded by the Romans in 43 BC.\n", encoding="utf-8")
    (corpus / "nice.txt").write_text("Nice\n\nNice was founded by Greeks around 350 BC.\n", encoding="utf-8")
    index = str(tmp_path / "index")
    assert main(["index", "--corpus", str(corpus), "--index", index, "-q"]) == 0
    capsys.readouterr()
    ask = ["ask", "And Nice?", "--index", index, "--mode", "lexical", "--json"]
    assert main([*ask, "--after", "Who founded Lyon?", "--after", "When was it founded?"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["question"] == "And Nice?" and data["searched_as"] == "When was it founded? Nice"
    assert data["passages"][0]["file"] == "nice.txt" and "350 BC" in data["answer"]["text"]
    assert main(["ask", "When was it founded?", "--index", index, "--after", "Who founded Lyon?"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Searched as: When was it founded? Lyon") and "43 BC" in out
