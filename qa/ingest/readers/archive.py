"""Checks on a ZIP-based file (Office Open XML, EPUB) before any library unpacks it: bounded in memory and time.

A zip bomb (a few KB that unpack to gigabytes), a file with tens of thousands of parts, or XML that declares
entities (the "billion laughs": nested entities that expand exponentially) is refused here with its reason, before
openpyxl, python-pptx, python-docx or ebooklib parse a byte. Office and EPUB files never declare entities.
"""

from __future__ import annotations

import io
import zipfile
import zlib

from qa.errors import UnreadableDocument

MAX_UNPACKED_BYTES = 512 * 2**20
MAX_PARTS = 5_000
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an encrypted Office file, or an old binary one (.xls, .ppt, .doc)
_XML_SUFFIXES = (".xml", ".rels", ".xhtml", ".html", ".htm", ".opf", ".ncx", ".svg")
_PROLOGUE_BYTES = 4096  # a DOCTYPE and its entity declarations come before the root element


def check_zip(data: bytes, kind: str, fix: str) -> None:
    """Refuse ``data`` unless it is a ZIP that unpacks to at most ``MAX_UNPACKED_BYTES`` in ``MAX_PARTS`` parts with
    no XML entity declarations; ``kind`` names the format in messages (``"Excel .xlsx"``), ``fix`` how to repair it.

    >>> check_zip(b"not a zip", "Excel .xlsx", "re-save it")
    Traceback (most recent call last):
    qa.errors.UnreadableDocument: not a valid Excel .xlsx file (damaged, or another format renamed): re-save it
    """
    if data.startswith(_OLE2):
        raise UnreadableDocument(
            f"this {kind} file is password-protected (encrypted), or an old binary Office file: open it, remove the "
            "password or save it in the current format, and add that copy")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        parts = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        raise UnreadableDocument(f"not a valid {kind} file (damaged, or another format renamed): {fix}") from None
    if len(parts) > MAX_PARTS:
        raise UnreadableDocument(f"this {kind} file has {len(parts):,} parts, over the {MAX_PARTS:,} qa reads: "
                                 "split it into smaller files")
    unpacked = sum(part.file_size for part in parts)
    if unpacked > MAX_UNPACKED_BYTES:
        raise UnreadableDocument(
            f"this {kind} file unpacks to {unpacked / 2**20:,.0f} MB (from {len(data) / 2**20:,.1f} MB), over the "
            f"{MAX_UNPACKED_BYTES // 2**20} MB limit (a zip bomb?): split it into smaller files or remove it")
    for part in parts:
        if part.filename.lower().endswith(_XML_SUFFIXES) and _declares_entities(archive, part):
            raise UnreadableDocument(
                f"this {kind} file declares XML entities in {part.filename} (the 'billion laughs' attack; real "
                f"{kind} files never do): remove it, or re-save it from the program that made it")


def _declares_entities(archive: zipfile.ZipFile, part: zipfile.ZipInfo) -> bool:
    try:
        with archive.open(part) as member:
            return b"<!ENTITY" in member.read(_PROLOGUE_BYTES).upper()
    except (zipfile.BadZipFile, zlib.error, RuntimeError, ValueError, OSError, EOFError, NotImplementedError):
        return False  # a damaged or encrypted part: the format's reader reports it
