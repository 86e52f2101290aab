"""Read a whole corpus (a folder or one file) into documents, skipping files whose bytes a previous build read.

Every file is listed, checked against the size limits, hashed and parsed by the reader for its format; a file that
cannot be read becomes a ``Problem`` naming it and the reason, and the rest is read. A file whose sha256 equals the
one the previous build recorded is not parsed again: its documents (and the problems found in it) come from
``Previous``. Documents come back sorted by id, each with a fingerprint of everything the index keeps of it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from qa.errors import CorpusError, UnreadableDocument
from qa.ingest import readers
from qa.records import Document
from qa.settings import DEFAULT, Settings


@dataclass(frozen=True)
class Previous:
    """What the previous build read: its documents by file, the files' sha256 and the problems found in them."""

    documents: list[Document] = field(default_factory=list)
    file_sha: dict[str, str] = field(default_factory=dict)
    problems: tuple[readers.Problem, ...] = ()

    @cached_property
    def documents_by_path(self) -> dict[str, list[Document]]:
        by_path: dict[str, list[Document]] = {}
        for doc in self.documents:
            by_path.setdefault(doc.path, []).append(doc)
        return by_path

    @cached_property
    def problems_by_path(self) -> dict[str, list[readers.Problem]]:
        by_path: dict[str, list[readers.Problem]] = {}
        for problem in self.problems:  # e.g. a broken .jsonl line in a file read before
            by_path.setdefault(problem.path, []).append(problem)
        return by_path

    def of_files(self, rels: Iterable[str]) -> Previous:
        """Only what concerns these corpus files: what a worker reading them needs to be sent."""
        rels = set(rels)
        return Previous([d for d in self.documents if d.path in rels],
                        {rel: sha for rel, sha in self.file_sha.items() if rel in rels},
                        tuple(p for p in self.problems if p.path in rels))


@dataclass(frozen=True)
class Corpus:
    """The corpus as one build read it, documents sorted by id."""

    documents: list[Document]
    problems: list[readers.Problem]
    file_sha: dict[str, str]  # corpus file -> sha256 of its bytes
    fingerprints: list[str]  # one per document, in order

    @cached_property
    def by_id(self) -> dict[str, str]:
        """doc_id -> fingerprint: what the manifest records, and what the next build compares with."""
        return dict(zip((d.doc_id for d in self.documents), self.fingerprints, strict=True))


def document_fingerprint(doc: Document) -> str:
    return hashlib.sha256(json.dumps(doc.to_dict(), sort_keys=True).encode()).hexdigest()[:32]


Read = tuple[list[Document], list[readers.Problem], dict[str, str]]  # documents, problems, file -> sha256
# Reads listed files (path, path in the corpus): ``read_files`` here, or the same spread over a cluster.
ReadFiles = Callable[[list[tuple[Path, str]], Previous, Settings], Read]


def read_corpus(corpus: Path, previous: Previous | None = None, settings: Settings = DEFAULT,
                read: ReadFiles | None = None) -> Corpus:
    """Every readable document of ``corpus``, or ``CorpusError`` when not one is readable. ``read`` reads the
    listed files (default ``read_files``, in this process)."""
    files, problems = readers.list_corpus_files(corpus)
    documents, read_problems, file_sha = (read or read_files)(files, previous or Previous(), settings)
    problems += read_problems
    if not documents:
        unread = ""
        if problems:
            unread = f" ({len(problems)} files could not be read; {problems[0].path}: {problems[0].reason})"
        raise CorpusError(
            f"no readable documents in {corpus}{unread}"
            ": add .txt, .md, .html, .pdf, .docx or .jsonl files; the existing index was left as it was"
        )
    documents.sort(key=lambda d: d.doc_id)
    return Corpus(documents, problems, file_sha, [document_fingerprint(d) for d in documents])


def read_files(files: list[tuple[Path, str]], previous: Previous, settings: Settings) -> Read:
    """The documents, problems and sha256 of listed files; a file whose bytes ``previous`` read is not parsed."""
    problems: list[readers.Problem] = []
    documents: list[Document] = []
    file_sha: dict[str, str] = {}
    for path, rel in files:
        try:
            if reason := _too_big(path, settings):
                problems.append(readers.Problem(rel, reason))
                continue
            data = path.read_bytes()
        except OSError as exc:
            problems.append(readers.Problem(rel, f"cannot read file ({exc.strerror or exc}): check its permissions"))
            continue
        sha = hashlib.sha256(data).hexdigest()
        if previous.file_sha.get(rel) == sha and rel in previous.documents_by_path:
            documents.extend(previous.documents_by_path[rel])
            problems.extend(previous.problems_by_path.get(rel, ()))
            file_sha[rel] = sha
            continue
        try:
            result = readers.read_document(path, rel, data)
        except UnreadableDocument as exc:
            problems.append(readers.Problem(rel, str(exc)))
            continue
        for doc in result.documents:
            if reason := _too_long(doc, settings):
                problems.append(readers.Problem(rel, reason))
            else:
                documents.append(doc)
        problems.extend(result.problems)
        file_sha[rel] = sha
    return documents, problems, file_sha


def _too_big(path: Path, settings: Settings) -> str | None:
    """Why a file is refused for its size before its bytes are read, or None."""
    size = path.stat().st_size
    if size <= settings.max_file_mb * 2**20:
        return None
    return (f"the file is {size / 2**20:,.1f} MB, over the {settings.max_file_mb:g} MB limit for one file: "
            "split it into smaller files")


def _too_long(doc: Document, settings: Settings) -> str | None:
    """Why a document is refused for its length before it is chunked, or None."""
    if len(doc.text) <= settings.max_document_chars:
        return None
    record = f"record {doc.external_id}: " if doc.external_id else ""
    return (f"{record}the text is {len(doc.text):,} characters, over the {settings.max_document_chars:,} limit "
            "for one document: split it into smaller files")
