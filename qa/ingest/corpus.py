"""Read a whole corpus (a folder or one file) into documents, skipping files whose bytes a previous build read.

Every file is listed, checked against the size limits, hashed and parsed by the reader for its format; a file that
cannot be read becomes a ``Problem`` naming it and the reason, and the rest is read. A file whose sha256 equals the
one the previous build recorded is not parsed again: its documents (and the problems found in it) come from
``Previous``. Documents come back sorted by id, each with a fingerprint of everything the index keeps of it, and
the ledger: one ``LedgerEntry`` per file listed (read, unchanged or refused, with the reason, the reader and the time
it took), which the build completes with chunk counts and the generation.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from qa.errors import CorpusError, UnreadableDocument
from qa.ingest import readers
from qa.ingest.layout import TextLayout
from qa.records import INDEXED, TOO_BIG, UNCHANGED, UNREADABLE, Document, LedgerEntry
from qa.settings import DEFAULT, Settings


@dataclass(frozen=True)
class Previous:
    """What the previous build read: its documents by file, the files' sha256, the problems found in them, the
    PDFs' layouts and its ledger."""

    documents: list[Document] = field(default_factory=list)
    file_sha: dict[str, str] = field(default_factory=dict)
    problems: tuple[readers.Problem, ...] = ()
    layouts: dict[str, TextLayout] = field(default_factory=dict)
    ledger: dict[str, LedgerEntry] = field(default_factory=dict)  # its ledger by path (empty before ledgers)
    generation: str = ""  # its name: where an unchanged file was read, when its ledger does not say

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
        documents = [d for d in self.documents if d.path in rels]
        return Previous(documents, {rel: sha for rel, sha in self.file_sha.items() if rel in rels},
                        tuple(p for p in self.problems if p.path in rels),
                        {d.doc_id: self.layouts[d.doc_id] for d in documents if d.doc_id in self.layouts},
                        {rel: entry for rel, entry in self.ledger.items() if rel in rels}, self.generation)


@dataclass(frozen=True)
class Corpus:
    """The corpus as one build read it, documents sorted by id."""

    documents: list[Document]
    problems: list[readers.Problem]
    file_sha: dict[str, str]  # corpus file -> sha256 of its bytes
    fingerprints: list[str]  # one per document, in order
    layouts: dict[str, TextLayout] = field(default_factory=dict)  # doc_id -> where its words are (PDFs)
    ledger: list[LedgerEntry] = field(default_factory=list)  # one per file, by path; chunks and generation unset

    @cached_property
    def by_id(self) -> dict[str, str]:
        """doc_id -> fingerprint: what the manifest records, and what the next build compares with."""
        return dict(zip((d.doc_id for d in self.documents), self.fingerprints, strict=True))


def document_fingerprint(doc: Document) -> str:
    return hashlib.sha256(json.dumps(doc.to_dict(), sort_keys=True).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class FilesRead:
    """Listed files as a build read them: documents, problems, each file's sha256, the PDFs' layouts (by
    doc_id) and one ledger entry per file (chunks and generation unset)."""

    documents: list[Document] = field(default_factory=list)
    problems: list[readers.Problem] = field(default_factory=list)
    file_sha: dict[str, str] = field(default_factory=dict)
    layouts: dict[str, TextLayout] = field(default_factory=dict)
    ledger: list[LedgerEntry] = field(default_factory=list)

    @classmethod
    def combine(cls, parts: Iterable[FilesRead]) -> FilesRead:
        """The reads of disjoint sets of files as one (a cluster's tasks each read a batch)."""
        whole = cls()
        for part in parts:
            whole.documents.extend(part.documents)
            whole.problems.extend(part.problems)
            whole.file_sha.update(part.file_sha)
            whole.layouts.update(part.layouts)
            whole.ledger.extend(part.ledger)
        return whole


# Reads listed files (path, path in the corpus): ``read_files`` here, or the same spread over a cluster.
ReadFiles = Callable[[list[tuple[Path, str]], Previous, Settings], FilesRead]


def read_corpus(corpus: Path, previous: Previous | None = None, settings: Settings = DEFAULT,
                read: ReadFiles | None = None) -> Corpus:
    """Every readable document of ``corpus``, or ``CorpusError`` when not one is readable. ``read`` reads the
    listed files (default ``read_files``, in this process)."""
    files, problems = readers.list_corpus_files(corpus)
    refused = [LedgerEntry(p.path, p.status, p.reason) for p in problems]  # refused by the listing, unopened
    found = (read or read_files)(files, previous or Previous(), settings)
    problems += found.problems
    documents = found.documents
    if not documents:
        unread = ""
        if problems:
            unread = f" ({len(problems)} files could not be read; {problems[0].path}: {problems[0].reason})"
        raise CorpusError(
            f"no readable documents in {corpus}{unread}"
            f": add {', '.join(sorted(readers.SUPPORTED_SUFFIXES))} files; the existing index was left as it was"
        )
    documents.sort(key=lambda d: d.doc_id)
    return Corpus(documents, problems, found.file_sha, [document_fingerprint(d) for d in documents], found.layouts,
                  sorted(refused + found.ledger, key=lambda e: e.path))


def read_files(files: list[tuple[Path, str]], previous: Previous, settings: Settings) -> FilesRead:
    """Listed files read; a file whose bytes ``previous`` read is not parsed again."""
    options = readers.ReadOptions(ocr_languages=settings.ocr_languages)
    found = FilesRead()
    for path, rel in files:
        started = time.perf_counter()
        read = _read_file(path, rel, previous, settings, options)
        found.documents.extend(read.documents)
        found.layouts.update(read.layouts)
        found.problems.extend(read.problems)
        if read.sha:
            found.file_sha[rel] = read.sha
        found.ledger.append(replace(read.entry, documents=len(read.documents),
                                    seconds=round(time.perf_counter() - started, 4)))
    return found


@dataclass(frozen=True)
class _FileRead:
    """One corpus file as this build read it; ``sha`` is empty when its bytes were not read."""

    documents: tuple[Document, ...]
    problems: tuple[readers.Problem, ...]
    sha: str
    entry: LedgerEntry  # its documents and seconds are filled in by the caller
    layouts: dict[str, TextLayout] = field(default_factory=dict)  # doc_id -> where its words are (PDFs)


def _read_file(path: Path, rel: str, previous: Previous, settings: Settings,
               options: readers.ReadOptions) -> _FileRead:
    try:
        if reason := _too_big(path, settings):
            return _FileRead((), (readers.Problem(rel, reason, TOO_BIG),), "", LedgerEntry(rel, TOO_BIG, reason))
        data = path.read_bytes()
    except OSError as exc:
        reason = f"cannot read file ({exc.strerror or exc}): check its permissions"
        return _FileRead((), (readers.Problem(rel, reason),), "", LedgerEntry(rel, UNREADABLE, reason))
    sha = hashlib.sha256(data).hexdigest()
    if previous.file_sha.get(rel) == sha and _reusable(rel, previous):
        problems = tuple(previous.problems_by_path.get(rel, ()))
        before = previous.ledger.get(rel)
        entry = LedgerEntry(rel, UNCHANGED, _reasons(problems), reader=before.reader if before else _reader_of(rel),
                            generation=before.generation if before else previous.generation)
        kept = tuple(previous.documents_by_path[rel])
        return _FileRead(kept, problems, sha, entry,
                         {d.doc_id: previous.layouts[d.doc_id] for d in kept if d.doc_id in previous.layouts})
    try:
        result = readers.read_document(path, rel, data, options)
    except UnreadableDocument as exc:
        problem = readers.Problem(rel, str(exc), exc.status)
        return _FileRead((), (problem,), "", LedgerEntry(rel, exc.status, str(exc), reader=_reader_of(rel)))
    documents, problems = [], []
    for doc in result.documents:
        if reason := _too_long(doc, settings):
            problems.append(readers.Problem(rel, reason, TOO_BIG))
        else:
            documents.append(doc)
    problems.extend(result.problems)
    # A file of which nothing is indexed takes its first problem's status; one partly indexed is indexed, with
    # what was left out as the reason.
    status = INDEXED if documents else (problems[0].status if problems else UNREADABLE)
    # How the reader got the text (``OCR (Tesseract …) of page(s) 2, confidence 93``) goes in the ledger too.
    notes = "; ".join(note for doc in documents for note in doc.notes)
    entry = LedgerEntry(rel, status, "; ".join(filter(None, (notes, _reasons(problems)))), reader=result.reader)
    return _FileRead(tuple(documents), tuple(problems), sha, entry,
                     {d.doc_id: result.layouts[d.doc_id] for d in documents if d.doc_id in result.layouts})


def _reusable(rel: str, previous: Previous) -> bool:
    """Whether the previous build's documents of an unchanged file can be kept as they are: a PDF read before its
    layout was recorded (an older qa, whose text came from pypdf) is read again."""
    docs = previous.documents_by_path.get(rel)
    if not docs:
        return False
    return not rel.lower().endswith(".pdf") or all(d.doc_id in previous.layouts for d in docs)


def _reasons(problems: tuple[readers.Problem, ...] | list[readers.Problem]) -> str:
    """Every problem found in one file, as one line."""
    return "; ".join(p.reason for p in problems)


def _reader_of(rel: str) -> str:
    """The reader a file's suffix picks (recorded even when that reader refused the file)."""
    return readers.reader_name(rel) or ""


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
