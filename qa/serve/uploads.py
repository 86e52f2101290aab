"""Saving uploaded files into the corpus folder, safely.

A browser sends a file name it chose; nothing in it is trusted. The name is reduced to one plain file name (no
folders, no ``..``, no absolute path, not hidden), the type must be one the readers support, the size is bounded,
and a file is never overwritten: an identical file already in the corpus is refused, a different one with the
same name is saved under a numbered name. The final name is claimed with ``os.link``, which fails rather than
replace an existing file, so two uploads at once cannot overwrite each other either.

>>> safe_filename("../../etc/passwd.txt"), safe_filename("C:\\\\Users\\\\me\\\\.report.md")
('passwd.txt', 'report.md')
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from qa.errors import UploadError
from qa.ingest.readers import SUPPORTED_SUFFIXES

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
MAX_NAME_CHARS = 120
_UNSAFE = re.compile(r"[^\w.\- ()]+")


@dataclass(frozen=True)
class Saved:
    """An upload now in the corpus; ``note`` says when it was renamed."""

    name: str  # relative to the corpus folder
    note: str | None = None


def safe_filename(name: str) -> str:
    """One plain, visible file name from whatever a client sent; UploadError when nothing usable is left."""
    base = re.split(r"[/\\]", str(name))[-1]
    base = unicodedata.normalize("NFC", base)
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    base = _UNSAFE.sub("_", base).strip(" ._")
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = stem.strip(" ._")[: MAX_NAME_CHARS - len(suffix) - 1]
    if not stem:
        raise UploadError(f"the file name {name!r} has no usable characters: rename the file and upload it again")
    return f"{stem}.{suffix.lower()}" if suffix else stem


def check_upload(name: str, size: int, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """The safe name for an upload of ``size`` bytes, or UploadError saying why it cannot be added."""
    safe = safe_filename(name)
    suffix = Path(safe).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        kind = f"'{suffix}'" if suffix else "(no extension)"
        raise UploadError(f"unsupported file type {kind}: upload {', '.join(sorted(SUPPORTED_SUFFIXES))} files")
    if size == 0:
        raise UploadError("the file is empty: upload a file with some text in it")
    if size > max_bytes:
        raise UploadError(f"the file is {size / 2**20:.1f} MB; the limit is {max_bytes / 2**20:.0f} MB: "
                          "split it, or add it to the corpus folder and run `qa index`")
    return safe


def save_upload(data: bytes, name: str, corpus: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Saved:
    """Write ``data`` into ``corpus`` under a safe version of ``name``; never overwrites anything."""
    safe = check_upload(name, len(data), max_bytes)
    corpus = Path(corpus)
    corpus.mkdir(parents=True, exist_ok=True)
    root = corpus.resolve()
    existing = root / safe
    if existing.is_file() and existing.read_bytes() == data:
        raise UploadError(f"{safe} is already in the corpus with the same content: nothing to add")
    tmp = root / f".upload-{os.getpid()}-{os.urandom(6).hex()}"  # hidden: the corpus listing skips it
    try:
        tmp.write_bytes(data)  # inside the try: a write that fails half way (disk full) leaves nothing behind
        stem, suffix = Path(safe).stem, Path(safe).suffix
        for number in range(1, 1000):
            candidate = safe if number == 1 else f"{stem}-{number}{suffix}"
            try:
                os.link(tmp, root / candidate)  # fails on any existing name, a planted symlink included
            except FileExistsError:
                continue
            note = None
            if candidate != safe:
                note = f"a different {safe} is already in the corpus, so this one was saved as {candidate}"
            elif safe != name:
                note = f"saved as {safe} (the name was made safe)"
            return Saved(candidate, note)
        raise UploadError(f"too many files named like {safe} in the corpus: rename the file and upload it again")
    finally:
        tmp.unlink(missing_ok=True)
