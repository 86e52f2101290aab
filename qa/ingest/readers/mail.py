"""E-mail: ``.eml`` (one message) and ``.mbox`` (many), with the standard library's ``email`` package.

Each message is a document: the subject is its title, the sender its publisher and the ``Date`` header its date;
the text is the plain-text part, or the main text of the HTML part when there is no plain one (as ``read_html``
finds it). Each attachment of a format qa reads is read by that format's reader and becomes a document of its own,
labelled as an attachment of that mail (``doc_id`` ``"<file>#attachment/<name>"``); one that cannot be read is
reported, the rest of the mail is kept. Mails attached to mails are not opened (no recursion to bound).
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import email.utils
import re
from email.message import EmailMessage
from pathlib import Path

from qa.errors import UnreadableDocument
from qa.ingest.readers.base import READ_DEFAULTS, Problem, ReadOptions, ReadResult, clean_title, first_line
from qa.records import Document

MAX_MESSAGES = 100_000
_MBOX_SEPARATOR = re.compile(rb"(?m)^From [^\n]*\n")
_NOT_OPENED = (".eml", ".mbox")


def read_eml(path: Path, rel: str, data: bytes, options: ReadOptions = READ_DEFAULTS) -> ReadResult:
    documents, problems = _message_documents(_parse(data), rel, rel, options)
    if not documents:
        raise UnreadableDocument(problems[0].reason if problems else "the mail has no text and no readable "
                                 "attachment: remove it")
    return ReadResult(tuple(documents), tuple(problems))


def read_mbox(path: Path, rel: str, data: bytes, options: ReadOptions = READ_DEFAULTS) -> ReadResult:
    pieces = [piece for piece in _MBOX_SEPARATOR.split(data) if piece.strip()]
    if not data.startswith(b"From "):
        raise UnreadableDocument("not an mbox file (it should start with a 'From ' line): export the mailbox "
                                 "again, or save single mails as .eml")
    if len(pieces) > MAX_MESSAGES:
        raise UnreadableDocument(f"the mailbox holds {len(pieces):,} mails, over the {MAX_MESSAGES:,} qa reads: "
                                 "split it into smaller mailboxes")
    documents: list[Document] = []
    problems: list[Problem] = []
    for number, piece in enumerate(pieces, 1):
        found, trouble = _message_documents(_parse(piece), rel, f"{rel}#{number}", options)
        documents.extend(found)
        problems.extend(dataclasses.replace(p, reason=f"mail {number}: {p.reason}") for p in trouble)
    if not documents:
        raise UnreadableDocument("no mail in the mailbox has text: remove it")
    return ReadResult(tuple(documents), tuple(problems))


def _parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    if not isinstance(message, EmailMessage) or (not message.keys() and not message.get_payload()):
        raise UnreadableDocument("not an e-mail message (no headers): save the mail again as .eml, or remove it")
    return message


def _message_documents(message: EmailMessage, rel: str, doc_id: str, options: ReadOptions
                       ) -> tuple[list[Document], list[Problem]]:
    subject = clean_title(_header(message, "subject"))
    sender = _sender(_header(message, "from"))
    date = _date(_header(message, "date"))
    text = _body(message)
    documents = []
    if text.strip():
        documents.append(Document(doc_id=doc_id, path=rel, text=text, title=subject or first_line(text),
                                  publisher=sender, date=date))
    attachments, problems = _attachments(message, rel, doc_id, subject or "(no subject)", options)
    documents.extend(dataclasses.replace(doc, publisher=sender, date=doc.date or date) for doc in attachments)
    if not documents and not problems:
        problems.append(Problem(rel, "the mail has no text and no attachment qa reads: remove it"))
    return documents, problems


def _header(message: EmailMessage, name: str) -> str | None:
    try:
        value = message.get(name)
    except (ValueError, TypeError, IndexError, AttributeError):  # a malformed header the policy cannot parse
        return None
    return str(value) if value is not None else None


def _sender(value: str | None) -> str | None:
    if not value:
        return None
    name, address = email.utils.parseaddr(value)
    return clean_title(name or address or value)


def _date(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).date().isoformat()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _body(message: EmailMessage) -> str:
    """The plain-text part, else the HTML part's main text; newlines normalised."""
    from qa.ingest.readers.web import main_text

    try:
        part = message.get_body(preferencelist=("plain", "html"))
        content = part.get_content() if part is not None else ""
    except (LookupError, ValueError, TypeError, AttributeError, UnicodeError, KeyError):
        return ""
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() == "html" and content.strip():
        content = main_text(content)
    return content.replace("\r\n", "\n").replace("\r", "\n")


def _attachments(message: EmailMessage, rel: str, doc_id: str, subject: str, options: ReadOptions
                 ) -> tuple[list[Document], list[Problem]]:
    from qa.ingest.readers import SUPPORTED_SUFFIXES, read_document

    documents, problems = [], []
    seen: set[str] = set()
    for number, part in enumerate(message.iter_attachments(), 1):
        name = Path(part.get_filename() or "").name
        suffix = Path(name).suffix.lower()
        if not name or suffix in _NOT_OPENED or suffix not in SUPPORTED_SUFFIXES:
            continue
        key = name if name not in seen else f"{number}/{name}"  # two attachments of one name stay two documents
        seen.add(name)
        try:
            data = part.get_payload(decode=True) or b""
            read = read_document(Path(name), f"{doc_id}#attachment/{key}", data, options)
        except UnreadableDocument as exc:
            problems.append(Problem(rel, f"attachment {name}: {exc}"))
            continue
        problems.extend(dataclasses.replace(p, path=rel, reason=f"attachment {name}: {p.reason}")
                        for p in read.problems)
        documents.extend(dataclasses.replace(doc, path=rel, title=f"{doc.title} (attachment of “{subject}”)"[:150])
                         for doc in read.documents)
    return documents, problems
