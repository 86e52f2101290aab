"""Plain text: bytes -> ``str`` with the encoding guessed, and ``.txt`` files -> ``Document``.

Decoding order: a BOM wins (UTF-8, UTF-16/32 LE/BE); then strict UTF-8; then charset-normalizer, the
maintained successor of chardet that ``requests`` uses, asked only for 8-bit and multi-byte codecs (a file
with no NUL byte is not UTF-16). subtle: on short Western text it ties cp1252 with cp1250 and other code
pages and may pick an exotic one ("caf\\xe9" -> "cafﻠ"), so among near-equal guesses we take cp1252, the
usual legacy encoding.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

import charset_normalizer

from qa.errors import UnreadableDocument
from qa.ingest.readers.base import READ_DEFAULTS, ReadOptions, ReadResult, first_line, require_text
from qa.records import Document

_BOMS = (  # UTF-32 first: its LE BOM starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_MAGIC = (  # signatures of binary formats people save under a text name by mistake
    (b"%PDF-", "a PDF", ".pdf"),
    (b"PK\x03\x04", "a ZIP archive or Word .docx", ".docx"),
    (b"\xd0\xcf\x11\xe0", "an old Office document (.doc/.xls)", ".docx (save it as .docx)"),
    (b"\x89PNG", "a PNG image", None),
    (b"\xff\xd8\xff", "a JPEG image", None),
    (b"GIF8", "a GIF image", None),
    (b"\x1f\x8b", "a gzip archive", None),
)
_WIDE = {"utf_16", "utf_16_le", "utf_16_be", "utf_32", "utf_32_le", "utf_32_be"}
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")
_NEAR = 0.1  # how close charset-normalizer's scores must be for cp1252 to win a tie
_BINARY = "binary content ({what}) in a text file: remove it, or give it the extension of its real format"


def decode_text(data: bytes) -> str:
    """Bytes -> text with newlines normalised to ``"\\n"``; raise ``UnreadableDocument`` for binary content.

    >>> decode_text("caf\\u00e9\\r\\n".encode("cp1252"))
    'café\\n'
    """
    text = _decode(data)
    sample = text[:100_000]
    if len(_CONTROL.findall(sample)) > max(8, len(sample) // 100):
        raise UnreadableDocument(_BINARY.format(what="control characters"))
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _decode(data: bytes) -> str:
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError as exc:
                raise UnreadableDocument(
                    f"text starts with a {codec} byte-order mark but is not {codec} (byte {exc.start}): "
                    "re-save it as UTF-8"
                ) from None
    for magic, kind, suffix in _MAGIC:
        if data.startswith(magic):
            fix = f"give it the {suffix} extension" if suffix else "remove it from the corpus"
            raise UnreadableDocument(f"this is {kind}, not text: {fix}")
    if b"\x00" in data:
        raise UnreadableDocument(_BINARY.format(what="NUL bytes"))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    matches = charset_normalizer.from_bytes(data, cp_exclusion=sorted(_WIDE))
    best = matches.best()
    if best is None:
        raise UnreadableDocument("cannot decode the text (binary content or unknown encoding): re-save it as UTF-8")
    for match in matches:
        if (
            "cp1252" in match.could_be_from_charset
            and match.chaos <= best.chaos + _NEAR
            and match.coherence >= best.coherence - _NEAR
        ):
            return str(match)
    return str(best)


def read_txt(path: Path, rel: str, data: bytes, options: ReadOptions = READ_DEFAULTS) -> ReadResult:
    text = require_text(decode_text(data), "empty or whitespace only")
    return ReadResult((Document(doc_id=rel, path=rel, text=text, title=first_line(text)),))
