"""Converted models in one per-user cache, shared by every index: a model is converted once per user, not per folder.

The folder is ``QA_MODEL_CACHE`` when set, else ``$XDG_CACHE_HOME/qa/models``, else ``~/.cache/qa/models``; the
embedder takes it as a keyword argument too. Each entry is a folder named ``<weights fingerprint>-<kind>`` (kind:
``openvino``, ``openvino-int8``) holding the converted files and ``entry.json``::

    {"format": 1, "kind": "openvino", "version": 1, "source": "051e2de600e464d2",
     "files": {"model.xml": "<sha256>", "model.bin": "<sha256>"}}

An entry is built in a temporary folder beside it and swapped in with ``os.replace``, so a reader sees a whole entry
or none, and two processes converting at once both end with a good one. An entry is used only when its stamp has
this format, kind, version and source fingerprint and every file matches its checksum (about 0.1 s for the 90 MB
of weights, once per process); anything else (a killed conversion, a truncated or edited file, an older export) is
converted again, never used.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from qa.checksums import sha256_file

FORMAT = 1
STAMP = "entry.json"


def user_model_cache(environ: Mapping[str, str] | None = None) -> Path:
    """The per-user folder of converted models.

    >>> str(user_model_cache({"QA_MODEL_CACHE": "/m", "XDG_CACHE_HOME": "/x", "HOME": "/h"}))
    '/m'
    >>> str(user_model_cache({"XDG_CACHE_HOME": "/x", "HOME": "/h"})), str(user_model_cache({"HOME": "/h"}))
    ('/x/qa/models', '/h/.cache/qa/models')
    """
    environ = os.environ if environ is None else environ
    if environ.get("QA_MODEL_CACHE"):
        return Path(environ["QA_MODEL_CACHE"])
    if environ.get("XDG_CACHE_HOME"):
        return Path(environ["XDG_CACHE_HOME"]) / "qa" / "models"
    home = environ.get("HOME")
    return (Path(home) if home else Path.home()) / ".cache" / "qa" / "models"


def _stamp(kind: str, version: int, source: str) -> dict[str, object]:
    return {"format": FORMAT, "kind": kind, "version": version, "source": source}


def entry_ready(entry: Path, kind: str, version: int, source: str) -> bool:
    """Whether ``entry`` is a whole conversion of the weights fingerprinted ``source``, every file intact."""
    try:
        stamp = json.loads((entry / STAMP).read_text())
        if {k: stamp.get(k) for k in ("format", "kind", "version", "source")} != _stamp(kind, version, source):
            return False
        files = stamp["files"]
        return bool(files) and all(sha256_file(entry / name) == digest for name, digest in files.items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def prepared(entry: Path, kind: str, version: int, source: str, make: Callable[[Path], None],
             say: Callable[[str], None] | None = None, what: str = "") -> Path:
    """``entry``, converted by ``make(folder)`` (which writes its files into ``folder``) unless it is ready.

    ``say`` hears ``what`` before a conversion starts and the time it took after: conversions take seconds, and a
    user should see them as their own step.
    """
    if entry_ready(entry, kind, version, source):
        return entry
    if say and what:
        say(f"{what} ...")
    started = time.perf_counter()
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = entry.with_name(f".{entry.name}.tmp-{os.getpid()}-{time.time_ns()}")
    try:
        tmp.mkdir()
        make(tmp)
        files = {p.name: sha256_file(p) for p in sorted(tmp.iterdir()) if p.is_file()}
        stamp = {**_stamp(kind, version, source), "files": files,
                 "seconds": round(time.perf_counter() - started, 1)}
        (tmp / STAMP).write_text(json.dumps(stamp, indent=1))  # last: a folder without it is never used
        _publish(tmp, entry, kind, version, source)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if say and what:
        say(f"{what}: done in {time.perf_counter() - started:.1f} s")
    return entry


def _publish(tmp: Path, entry: Path, kind: str, version: int, source: str) -> None:
    try:
        os.replace(tmp, entry)  # atomic when there is no entry (or an empty one)
        return
    except OSError:
        if entry_ready(entry, kind, version, source):
            return  # another process finished first; its conversion is as good as ours
    # subtle: a directory cannot replace a non-empty one, so the bad entry is moved aside first
    aside = entry.with_name(f".{entry.name}.stale-{os.getpid()}-{time.time_ns()}")
    os.replace(entry, aside)
    try:
        os.replace(tmp, entry)
    finally:
        shutil.rmtree(aside, ignore_errors=True)
