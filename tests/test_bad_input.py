"""Bad input through every face: each case is refused with one line naming the fix, or handled; never a traceback.

Questions go through ``Assistant.ask`` and the ``qa ask`` command; a messy corpus goes through ``build_index`` and
the ``qa index`` command. The reader-level cases (each format, each way a file can be broken) are in
``test_readers.py``; here is what the build and the command do with them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qa.assistant import Assistant
from qa.embed.embedders import HashingEmbedder
from qa.errors import QuestionError, SettingsError
from qa.index import store
from qa.index.build import build_index
from qa.serve.cli import main
from qa.settings import Settings
from tests.test_readers import encrypt_pdf, make_pdf

REPO = Path(__file__).resolve().parent.parent

# (id, question, None when it is answered, else a pattern of the refusal)
QUESTIONS = [
    ("empty", "", "question is empty"),
    ("whitespace", " \t\n  \r\n", "question is empty"),
    ("punctuation", "?!... ;-) «»", "no words"),
    ("emoji-only", "🎉🔥👍", "no words"),
    ("control-only", "\x00\x07\x1b\x7f", "question is empty"),
    ("100k-chars", "danube " * 14_286, "100,00[0-9] characters long; the limit is 2,000"),
    ("control-chars", "Which sea\x00 does the\x07 Danube\x1b[31m end in?", None),
    ("emoji-and-words", "Danube 🌊 Black Sea? 🎉", None),
    ("right-to-left", "أين ينتهي نهر الدانوب؟ Danube", None),
    ("mixed-direction", "\u202eDanube\u202c sea", None),
    ("german", "Wo mündet die Donau? Danube", None),
    ("chinese", "多瑙河流入哪个海？", None),
    ("max-length", "danube " * 285, None),
]
BAD_K = [("zero", "0", "k=0 is out of range"), ("negative", "-3", "k=-3 is out of range"),
         ("huge", "1000000000", "k=1000000000 is out of range"), ("word", "lots", "whole number"),
         ("float", "2.5", "whole number"), ("blank", " ", "whole number")]


@pytest.fixture
def index(small_corpus: Path, tmp_path: Path, embedder) -> Path:
    build_index(small_corpus, tmp_path / "index", embedder, progress=False)
    return tmp_path / "index"


@pytest.fixture
def fast_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_MODEL", "hashing-64")


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("qa: error: ") and captured.err.count("\n") == 1, captured.err
    return captured.err


# --- questions -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("question", "refusal"), [c[1:] for c in QUESTIONS], ids=[c[0] for c in QUESTIONS])
def test_assistant_answers_or_refuses_each_question(index: Path, embedder, question: str, refusal: str | None) -> None:
    assistant = Assistant.load(index, embedder=embedder)
    if refusal:
        with pytest.raises(QuestionError, match=refusal):
            assistant.ask(question)
        return
    result = assistant.ask(question, k=3)
    assert 1 <= len(result.passages) <= 3
    assert result.question.strip() and all(ch.isprintable() or ch in "\t\n" for ch in result.question)
    json.dumps(result.to_dict(), ensure_ascii=False)  # the JSON contract holds for any accepted question


@pytest.mark.parametrize(("k", "refusal"), [c[1:] for c in BAD_K], ids=[c[0] for c in BAD_K])
def test_assistant_refuses_bad_k(index: Path, embedder, k: str, refusal: str) -> None:
    with pytest.raises(QuestionError, match=refusal):
        Assistant.load(index, embedder=embedder).ask("Danube", k=k)


@pytest.mark.parametrize(("question", "refusal"), [c[1:] for c in QUESTIONS], ids=[c[0] for c in QUESTIONS])
def test_cli_answers_or_refuses_each_question(index: Path, fast_model, capsys, question: str,
                                              refusal: str | None) -> None:
    status = main(["ask", question, "--index", str(index), "-k", "2"])
    if refusal:
        assert status == 1
        assert re.search(refusal, one_line_error(capsys))
    else:
        assert status == 0 and "[1] " in capsys.readouterr().out


@pytest.mark.parametrize(("k", "refusal"), [c[1:] for c in BAD_K], ids=[c[0] for c in BAD_K])
def test_cli_refuses_bad_k(index: Path, fast_model, capsys, k: str, refusal: str) -> None:
    assert main(["ask", "Danube", "--index", str(index), "-k", k]) == 1
    assert re.search(refusal, one_line_error(capsys))


def test_cli_subprocess_bad_question_and_k_print_one_line(index: Path) -> None:
    """The installed entry point, not just ``main``: exit 1, one line, no traceback."""
    env = {**os.environ, "QA_MODEL": "hashing-64"}
    for argv in (["danube " * 14_286, "-k", "-1"],):  # the question is checked first
        proc = subprocess.run([sys.executable, "-m", "qa", "ask", *argv, "--index", str(index)],
                              capture_output=True, text=True, env=env, cwd=REPO, timeout=60)
        assert proc.returncode == 1 and proc.stdout == ""
        assert proc.stderr.startswith("qa: error: ") and proc.stderr.count("\n") == 1, proc.stderr


# --- the corpus ------------------------------------------------------------------------------------------------


@pytest.fixture
def messy_corpus(small_corpus: Path, tmp_path: Path) -> Path:
    """The three good documents plus one of every kind of trouble a corpus folder can hold."""
    c = small_corpus
    (c / "binary.txt").write_bytes(bytes(range(256)) * 8)
    (c / "text-as.pdf").write_bytes(b"This is plain text saved with a .pdf name.\n")
    (c / "corrupt.pdf").write_bytes(make_pdf([["Cut short."]])[:80])
    (c / "encrypted.pdf").write_bytes(encrypt_pdf(make_pdf([["Hidden text."]]), user_password="secret"))
    (c / "zero.txt").write_bytes(b"")
    (c / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (c / "latin1.txt").write_bytes("Café crème\n\nThe glacier café in Zürich serves crème brûlée.\n".encode("latin-1"))
    (c / "utf16.txt").write_bytes("Fjords\n\nThe Sognefjord in Norway is the longest fjord.\n".encode("utf-16"))
    twin = "Volcanoes\n\nMount Etna erupts often and lava reaches Catania.\n"
    (c / "twin-a.txt").write_text(twin)
    (c / "sub").mkdir()
    (c / "sub" / "twin-b.txt").write_text(twin)
    (c / "records.jsonl").write_text('{"_id": "r1", "title": "Owls", "text": "Owls hunt mice at night."}\n'
                                     '{"_id": "r2", "title": "Broken", "text": \n')
    (tmp_path / "secret.txt").write_text("outside the corpus")
    (c / "outside.txt").symlink_to(tmp_path / "secret.txt")
    (c / "loop-a.txt").symlink_to(c / "loop-b.txt")
    (c / "loop-b.txt").symlink_to(c / "loop-a.txt")
    return c


MESSY_PROBLEMS = {
    "binary.txt": "binary content",
    "text-as.pdf": "not valid PDF",
    "corrupt.pdf": "not valid PDF",
    "encrypted.pdf": "encrypted with a password",
    "zero.txt": "empty",
    "image.png": "unsupported file type '.png'",
    "records.jsonl": "line 2: not valid JSON",
    "outside.txt": "outside the corpus",
    "loop-a.txt": "link loop",
    "loop-b.txt": "link loop",
}
MESSY_DOCUMENTS = {"apples.md", "rivers.txt", "stars.txt", "latin1.txt", "utf16.txt", "twin-a.txt", "sub/twin-b.txt",
                   "records.jsonl#r1"}


def test_messy_corpus_reports_each_bad_file_and_indexes_the_rest(messy_corpus: Path, tmp_path: Path) -> None:
    embedder = HashingEmbedder(64)
    report = build_index(messy_corpus, tmp_path / "index", embedder, progress=False)
    reasons = {p.path: p.reason for p in report.problems}
    assert set(reasons) == set(MESSY_PROBLEMS)
    for path, pattern in MESSY_PROBLEMS.items():
        assert pattern in reasons[path], (path, reasons[path])
    data = store.load(tmp_path / "index")
    assert {d.doc_id for d in data.documents} == MESSY_DOCUMENTS
    assert data.manifest.counts.problems == len(MESSY_PROBLEMS)
    # legacy encodings were decoded, not mangled
    assistant = Assistant.load(tmp_path / "index", embedder=embedder)
    assert "crème brûlée" in assistant.ask("glacier café Zürich crème", k=1).passages[0].text
    assert assistant.ask("longest fjord Norway", k=1).passages[0].path == "utf16.txt"


def test_duplicate_documents_are_embedded_once_and_both_found(messy_corpus: Path, tmp_path: Path) -> None:
    embedder = HashingEmbedder(64)
    report = build_index(messy_corpus, tmp_path / "index", embedder, progress=False)
    data = store.load(tmp_path / "index")
    twins = [r for r in range(len(data.chunks)) if data.chunk(r).doc_id in ("twin-a.txt", "sub/twin-b.txt")]
    texts = [data.chunk(r).text for r in twins]
    # two names, one text: the chunks exist for both (or one, if collapsed) but were embedded only once
    assert len(set(texts)) == len(texts) // 2 or len(twins) == len(set(texts))
    assert report.chunks_embedded == embedder.texts_embedded == report.chunks - (len(twins) - len(set(texts)))
    result = Assistant.load(tmp_path / "index", embedder=embedder).ask("Mount Etna lava Catania", k=2)
    # same text twice: shown once (grouping collapses duplicates), naming the other copy
    top = result.passages[0]
    assert top.path in ("twin-a.txt", "sub/twin-b.txt") and top.also_in == ("Volcanoes",)
    assert [p.path for p in result.passages].count(top.path) == 1
    assert not {"twin-a.txt", "sub/twin-b.txt"} <= {p.path for p in result.passages}


def test_cli_lists_unreadable_files_with_reasons_and_exits_0(messy_corpus: Path, tmp_path: Path, fast_model,
                                                             capsys) -> None:
    assert main(["index", "--corpus", str(messy_corpus), "--index", str(tmp_path / "index"), "-q"]) == 0
    out = capsys.readouterr().out
    assert f"Indexed {len(MESSY_DOCUMENTS)} documents" in out
    assert f"{len(MESSY_PROBLEMS)} unreadable" in out and "Could not read:" in out
    for path, pattern in MESSY_PROBLEMS.items():
        assert any(line.startswith(f"  {path}: ") and pattern in line for line in out.splitlines()), path
    assert main(["index", "--corpus", str(messy_corpus), "--index", str(tmp_path / "index"), "-q", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {p["path"] for p in report["problems"]} == set(MESSY_PROBLEMS) and report["chunks_embedded"] == 0


@pytest.mark.parametrize("case", ["missing", "empty", "only-unreadable", "file-not-folder"])
def test_cli_corpus_without_documents_is_one_line_and_keeps_the_index(case: str, small_corpus: Path, tmp_path: Path,
                                                                      fast_model, capsys) -> None:
    index = tmp_path / "index"
    assert main(["index", "--corpus", str(small_corpus), "--index", str(index), "-q"]) == 0
    live = store.current_generation(index)
    capsys.readouterr()
    corpus = tmp_path / "other"
    expected = {"missing": "corpus folder not found", "empty": "no readable documents",
                "only-unreadable": r"no readable documents in .* \(2 files could not be read; (a.txt|b.png): ",
                "file-not-folder": "no readable documents .*unsupported file type"}[case]
    if case != "missing":
        corpus.mkdir()
    if case == "only-unreadable":
        (corpus / "a.txt").write_bytes(b"")
        (corpus / "b.png").write_bytes(b"\x89PNG")
    if case == "file-not-folder":
        corpus = corpus / "notes.rtf"
        corpus.write_text("{\\rtf1 hi}")
    assert main(["index", "--corpus", str(corpus), "--index", str(index), "-q"]) == 1
    assert re.search(expected, one_line_error(capsys))
    assert store.current_generation(index) == live


def test_unreadable_file_and_folder_are_reported_simulated(small_corpus: Path, tmp_path: Path, embedder,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Permission denied, simulated (root reads everything): the build lists the file and indexes the rest."""
    (small_corpus / "secret.txt").write_text("Classified.")
    (small_corpus / "private").mkdir()
    (small_corpus / "private" / "p.txt").write_text("Private.")
    read_bytes, scandir = Path.read_bytes, os.scandir

    def deny_file(self: Path) -> bytes:
        if self.name == "secret.txt":
            raise PermissionError(13, "Permission denied", str(self))
        return read_bytes(self)

    def deny_folder(path=None):
        if isinstance(path, str | os.PathLike) and Path(path).name == "private":
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path) if path is not None else scandir()

    monkeypatch.setattr(Path, "read_bytes", deny_file)
    monkeypatch.setattr("qa.ingest.readers.listing.os.scandir", deny_folder)
    report = build_index(small_corpus, tmp_path / "index", embedder, progress=False)
    reasons = {p.path: p.reason for p in report.problems}
    assert "Permission denied" in reasons["secret.txt"] and "permissions" in reasons["secret.txt"]
    assert "cannot open folder" in reasons["private"]
    assert report.documents == 3


def _without_root_powers() -> list[str]:
    """A command prefix that runs as root without the right to ignore file permissions (real EACCES)."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to drop CAP_DAC_OVERRIDE; the simulated test covers the logic")
    caps = "-dac_override,-dac_read_search"
    probe = subprocess.run(["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"setpriv cannot drop capabilities here: {probe.stderr.decode().strip()}")
    return ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}"]


def test_unreadable_permissions_for_real(small_corpus: Path, tmp_path: Path) -> None:
    prefix = _without_root_powers()
    (small_corpus / "secret.txt").write_text("Classified.")
    (small_corpus / "private").mkdir()
    (small_corpus / "private" / "p.txt").write_text("Private.")
    (small_corpus / "secret.txt").chmod(0)
    (small_corpus / "private").chmod(0)
    env = {**os.environ, "QA_MODEL": "hashing-64"}
    proc = subprocess.run([*prefix, sys.executable, "-m", "qa", "index", "--corpus", str(small_corpus),
                           "--index", str(tmp_path / "index"), "--json", "-q"],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    (small_corpus / "private").chmod(0o755)
    assert proc.returncode == 0, proc.stderr
    reasons = {p["path"]: p["reason"] for p in json.loads(proc.stdout)["problems"]}
    assert "Permission denied" in reasons["secret.txt"] and "cannot open folder" in reasons["private"]


def test_index_folder_without_write_permission_is_one_line(small_corpus: Path, tmp_path: Path) -> None:
    prefix = _without_root_powers()
    index = tmp_path / "index"
    index.mkdir()
    index.chmod(0o555)
    env = {**os.environ, "QA_MODEL": "hashing-64"}
    proc = subprocess.run([*prefix, sys.executable, "-m", "qa", "index", "--corpus", str(small_corpus),
                           "--index", str(index), "-q"], capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    index.chmod(0o755)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("qa: error: permission denied while writing the index")
    assert "no index was written" in proc.stderr


def test_file_over_the_size_limit_is_refused_before_reading(small_corpus: Path, tmp_path: Path, embedder,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    (small_corpus / "huge.txt").write_bytes(b"Words and more words.\n" * 100_000)  # 2.2 MB
    read_bytes = Path.read_bytes

    def never_huge(self: Path) -> bytes:
        assert self.name != "huge.txt", "a file over the limit must not be read"
        return read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", never_huge)
    report = build_index(small_corpus, tmp_path / "index", embedder, settings=Settings(max_file_mb=1), progress=False)
    assert [(p.path, p.reason) for p in report.problems] == [
        ("huge.txt", "the file is 2.1 MB, over the 1 MB limit for one file: split it into smaller files")]
    assert report.documents == 3


def test_record_over_the_length_limit_is_refused_alone(small_corpus: Path, tmp_path: Path, embedder) -> None:
    (small_corpus / "bulk.jsonl").write_text(json.dumps({"_id": "big", "text": "long text " * 200}) + "\n"
                                             + json.dumps({"_id": "ok", "text": "short text"}) + "\n")
    report = build_index(small_corpus, tmp_path / "index", embedder, settings=Settings(max_document_chars=1000),
                         progress=False)
    assert [(p.path, p.reason) for p in report.problems] == [
        ("bulk.jsonl", "record big: the text is 2,000 characters, over the 1,000 limit for one document: "
                       "split it into smaller files")]
    assert report.documents == 4


def test_size_limits_are_checked() -> None:
    with pytest.raises(SettingsError, match="max_file_mb=0"):
        Settings(max_file_mb=0)
    with pytest.raises(SettingsError, match="max_document_chars=0"):
        Settings(max_document_chars=0)


# One line repeated to 50 MB: plain ASCII (strict UTF-8 decodes it), and cp1252 with accents, which fails UTF-8 and
# so goes through charset detection.
BIG_LINES = {"ascii": "The quick brown fox jumps over the lazy dog near the river bank, again and again.\n",
             "cp1252": "Le caf\u00e9 cr\u00e8me br\u00fbl\u00e9e pr\u00e8s du fleuve, encore et encore \u2014 "
                       "\u00e0 Z\u00fcrich.\n"}
PEAK_SCRIPT = """import sys
from qa.serve.cli import main
status = main(sys.argv[1:])
status_lines = open("/proc/self/status").read().splitlines()
print(next(line.split()[1] for line in status_lines if line.startswith("VmHWM:")), file=sys.stderr)
sys.exit(status)
"""


@pytest.mark.parametrize("encoding", sorted(BIG_LINES))
def test_50_mb_text_file_is_refused_without_exhausting_memory(encoding: str, small_corpus: Path,
                                                              tmp_path: Path) -> None:
    """A real 50 MB .txt through `qa index`: listed with its length, the rest indexed, peak memory bounded.

    Without the limit, chunking it needs about 1.8 GB with the test tokenizer and 8 GB with the real one. The peak is
    the child's own high-water mark (VmHWM): subtle: ``ru_maxrss`` of a child started by vfork + exec also carries
    the parent's peak, so it measured pytest, not `qa index`. Measured here: 84 MB for the three small files alone,
    164 MB with the ASCII file, 266 MB with the cp1252 one (its text needs two bytes a character).
    """
    line = BIG_LINES[encoding]
    copies = 50 * 2**20 // len(line.encode(encoding))
    with (small_corpus / "big.txt").open("wb") as handle:
        handle.write(line.encode(encoding) * copies)
    proc = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, "index", "--corpus", str(small_corpus), "--index",
                           str(tmp_path / "index"), "--json", "-q"], capture_output=True, text=True,
                          env={**os.environ, "QA_MODEL": "hashing-64"}, cwd=REPO, timeout=300)
    (small_corpus / "big.txt").unlink()
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["documents"] == 3
    assert [p["path"] for p in report["problems"]] == ["big.txt"]
    assert report["problems"][0]["reason"] == (
        f"the text is {len(line) * copies:,} characters, over the {Settings().max_document_chars:,} limit for one "
        "document: split it into smaller files")
    peak_mb = int(proc.stderr.strip().splitlines()[-1]) / 1024
    assert peak_mb < 800, f"peak RSS {peak_mb:.0f} MB"
