"""Which files make up the corpus: a sorted walk that never follows a link out of the corpus folder."""

from __future__ import annotations

import os
from pathlib import Path

from qa.errors import CorpusError
from qa.ingest.readers.base import Problem


def list_corpus_files(root: Path, suffixes: frozenset[str]) -> tuple[list[tuple[Path, str]], list[Problem]]:
    """``([(absolute path, relative posix path)], problems)`` sorted by relative path; see ``qa.ingest.readers``."""
    root = Path(root)
    if not root.exists():
        raise CorpusError(f"corpus folder not found: {root} — create it and put documents in it, or pass --corpus PATH")
    if not root.is_dir():
        problem = _unsupported(root.name, suffixes)
        return ([] if problem else [(root.absolute(), root.name)]), ([problem] if problem else [])
    real_root = root.resolve()
    files: list[tuple[Path, str]] = []
    problems: list[Problem] = []
    _walk(real_root, real_root, "", suffixes, files, problems)
    return sorted(files, key=lambda item: item[1]), sorted(problems, key=lambda p: p.path)


def _walk(
    real_root: Path,
    folder: Path,
    prefix: str,
    suffixes: frozenset[str],
    files: list[tuple[Path, str]],
    problems: list[Problem],
) -> None:
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as exc:
        problems.append(
            Problem(prefix.rstrip("/") or ".", f"cannot open folder ({exc.strerror}): check its permissions",
                    "unreadable")
        )
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        rel = prefix + entry.name
        path = Path(entry.path)
        if entry.is_symlink():
            reason = _link_problem(path, real_root)
            if reason:
                problems.append(Problem(rel, reason, "skipped"))
                continue
        if entry.is_dir(follow_symlinks=False):
            _walk(real_root, path, rel + "/", suffixes, files, problems)
        elif entry.is_file():
            problem = _unsupported(rel, suffixes)
            if problem:
                problems.append(problem)
            else:
                files.append((path, rel))
        else:
            problems.append(Problem(rel, "not a regular file (a device, socket or pipe): remove it from the corpus",
                                    "skipped"))


def _link_problem(link: Path, real_root: Path) -> str | None:
    """Why a symbolic link is not read, or None for a link to a file inside the corpus."""
    try:
        target = link.resolve(strict=True)
    except FileNotFoundError:
        return f"broken link (points to {os.readlink(link)}, which does not exist): fix or remove the link"
    except (RuntimeError, OSError):  # RuntimeError: a loop, on Python < 3.13
        return "link loop (the link points back to itself): remove the link"
    if not target.is_relative_to(real_root):
        return f"link points outside the corpus folder (to {target}): copy the file into the corpus instead"
    if target.is_dir():
        return "link to a folder: not followed (its files inside the corpus are read under their own paths)"
    return None


def _unsupported(rel: str, suffixes: frozenset[str]) -> Problem | None:
    suffix = Path(rel).suffix.lower()
    if suffix in suffixes:
        return None
    kind = f"'{suffix}'" if suffix else "(no extension)"
    supported = ", ".join(sorted(suffixes))
    return Problem(
        rel,
        f"unsupported file type {kind}: supported are {supported} — convert it or move it out of the corpus",
        "skipped",
    )
