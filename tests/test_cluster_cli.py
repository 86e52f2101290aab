"""`qa index --engine ray` from the command line, where no cluster is needed: the local build never imports Ray,
and a wrong address or a missing cluster is one clear line, at once."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from qa.index import store
from qa.serve.cli import main
from tests.conftest import REPO

# The local build in a fresh interpreter: is Ray imported by the time it is done?
LOCAL = """import json, sys
from qa.index import store
from qa.serve.cli import main
code = main(["index", "--corpus", sys.argv[1], "--index", sys.argv[2], "-q"])
print(json.dumps({"code": code, "ray": "ray" in sys.modules}))
"""


def test_a_local_build_does_not_import_ray(small_corpus: Path, tmp_path: Path) -> None:
    pytest.importorskip("ray")  # where Ray is installed, it must still stay out of a local build
    ran = subprocess.run([sys.executable, "-c", LOCAL, str(small_corpus), str(tmp_path / "index")],
                         capture_output=True, text=True, timeout=300, cwd=REPO,
                         env={**os.environ, "QA_MODEL": "hashing-64"})
    assert json.loads(ran.stdout.strip().splitlines()[-1]) == {"code": 0, "ray": False}, ran.stderr[-2000:]


def free_port() -> int:
    """A port on 127.0.0.1 where nothing listens (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("address, says", [
    (f"127.0.0.1:{free_port()}", "no Ray cluster answers at 127.0.0.1:"),
    ("no-port-here", "is not HOST:PORT"),
])
def test_a_wrong_address_is_one_line_and_the_index_is_untouched(small_corpus: Path, tmp_path: Path, capsys,
                                                                 monkeypatch, address: str, says: str) -> None:
    pytest.importorskip("ray")
    monkeypatch.setenv("QA_MODEL", "hashing-64")
    code = main(["index", "--corpus", str(small_corpus), "--index", str(tmp_path / "index"), "-q",
                 "--engine", "ray", "--address", address])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("qa: error: ") and says in err and "--address" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert store.current_generation(tmp_path / "index") is None


def test_an_address_without_the_ray_engine_is_refused(small_corpus: Path, tmp_path: Path, capsys) -> None:
    code = main(["index", "--corpus", str(small_corpus), "--index", str(tmp_path / "index"), "--address", "auto"])
    assert code == 1 and "--address needs --engine ray" in capsys.readouterr().err
