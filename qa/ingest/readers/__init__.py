"""The corpus reader: files -> ``Document`` records, with a plain reason for every file that cannot be read.

One module per format (``text``, ``md``, ``web``, ``pdf`` with ``ocr``, ``word``, ``spreadsheet``, ``delimited``,
``slides``, ``ebook``, ``mail``, ``jsonl``; ``tables`` and ``archive`` shared), each saying why its
library was chosen; ``listing`` walks the corpus folder. Only this package reads the corpus from disk.

>>> result = read_document(Path("notes.txt"), "notes.txt", b"Apples\\r\\nThey grow on trees.\\r\\n")
>>> result.documents[0].title, result.documents[0].text
('Apples', 'Apples\\nThey grow on trees.\\n')
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from qa.errors import UnreadableDocument
from qa.ingest.readers import listing
from qa.ingest.readers.base import READ_DEFAULTS, Problem, ReadOptions, ReadResult

__all__ = ["SUPPORTED_SUFFIXES", "Problem", "ReadOptions", "ReadResult", "list_corpus_files", "read_document",
           "read_path"]

# Each format's module is imported the first time a file of that format is read: a corpus of .jsonl files never
# pays for lxml, trafilatura, pypdf or python-docx (about half a second of every `qa index`). Every reader is called
# as ``reader(path, rel, data, options)``; the options (OCR languages) matter to the PDF and mail readers only.
_READERS: dict[str, tuple[str, str]] = {
    ".txt": ("text", "read_txt"),
    ".md": ("md", "read_markdown"),
    ".markdown": ("md", "read_markdown"),
    ".html": ("web", "read_html"),
    ".htm": ("web", "read_html"),
    ".pdf": ("pdf", "read_pdf"),
    ".docx": ("word", "read_docx"),
    ".jsonl": ("jsonl", "read_jsonl"),
    ".csv": ("delimited", "read_delimited"),
    ".tsv": ("delimited", "read_delimited"),
    ".xlsx": ("spreadsheet", "read_xlsx"),
    ".pptx": ("slides", "read_pptx"),
    ".eml": ("mail", "read_eml"),
    ".mbox": ("mail", "read_mbox"),
    ".epub": ("ebook", "read_epub"),
}
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(_READERS)


def list_corpus_files(root: Path) -> tuple[list[tuple[Path, str]], list[Problem]]:
    """Walk ``root`` (a folder, or a single file): ``([(absolute path, relative posix path)], problems)``.

    Sorted by relative path. Hidden names (``.gitkeep``) are skipped silently; unsupported types, broken
    links, link loops and links out of the corpus come back as problems. A link to a file inside the corpus
    is listed under its own name. A missing ``root`` raises ``CorpusError``.
    """
    return listing.list_corpus_files(root, SUPPORTED_SUFFIXES)


def read_document(path: Path, rel: str, data: bytes, options: ReadOptions = READ_DEFAULTS) -> ReadResult:
    """Parse one file's bytes by its suffix; raise ``UnreadableDocument`` when nothing usable comes out."""
    suffix = Path(path).suffix.lower()
    if suffix not in _READERS:
        raise UnreadableDocument(f"unsupported file type '{suffix}': supported are {', '.join(sorted(_READERS))}")
    if not data or data.isspace():  # ``not data.strip()`` without a copy of the file
        raise UnreadableDocument("the file is empty: add some text or remove it")
    module, function = _READERS[suffix]
    try:
        reader: Callable[[Path, str, bytes, ReadOptions], ReadResult] = getattr(
            importlib.import_module(f"qa.ingest.readers.{module}"), function)
        return reader(Path(path), rel, data, options)
    except UnreadableDocument:
        raise
    except (Exception, RecursionError) as exc:  # the last line of defence: no library error reaches the user
        raise UnreadableDocument(
            f"could not read this {suffix} file ({type(exc).__name__}: {exc}): re-save it or remove it"
        ) from exc


def read_path(path: Path, rel: str, options: ReadOptions = READ_DEFAULTS) -> ReadResult:
    """Read the file's bytes and parse them (the build reads bytes itself, to hash them)."""
    try:
        data = Path(path).read_bytes()
    except PermissionError:
        raise UnreadableDocument(
            "cannot read file: permission denied — give yourself read access (chmod u+r) or remove it"
        ) from None
    except OSError as exc:
        raise UnreadableDocument(f"cannot read file: {exc.strerror or exc} — check the file or remove it") from None
    return read_document(path, rel, data, options)
