"""Domain errors. The CLI and the app turn these into one-line messages; nothing else reaches a user.

Every message names the problem and the fix, so a user never needs a traceback to know what to do.
"""

from __future__ import annotations

# The fix for any index that fails its checks; the end of every such message.
REBUILD_HINT = "rebuild it with `qa index --full`"


class QAError(Exception):
    """Base class: anything a user can cause or fix."""


class SettingsError(QAError, ValueError):
    """A setting or argument has a value we cannot use."""


class CorpusError(QAError):
    """The corpus as a whole cannot be read (missing folder, nothing readable)."""


class UnreadableDocument(QAError):
    """One file cannot be read; the build reports it by name and indexes the rest.

    ``status`` is what the ingestion ledger records for the file (``qa.records.LEDGER_STATUSES``): ``unreadable``
    unless the reader knows better (``needs OCR`` for a scan).
    """

    def __init__(self, message: str, *, status: str = "unreadable"):
        super().__init__(message)
        self.status = status


class IndexMissingError(QAError):
    """There is no index where one was expected."""


class IndexCorruptError(QAError):
    """The index exists but fails its checks (checksums, format version, model)."""


class IndexBusyError(QAError):
    """Another process is rebuilding the same index."""


class IndexWriteError(QAError):
    """The index cannot be written (disk full, no permission); the previous generation stays live."""


class ClusterError(QAError):
    """The Ray cluster cannot be reached, lacks what a build needs, was lost during a build, or cannot hold the
    index's shards."""


class QuestionError(QAError, ValueError):
    """The question (or its options such as k) cannot be answered as given."""


class ModelError(QAError):
    """The embedding model cannot be loaded."""


class UploadError(QAError):
    """A file uploaded in the app cannot be added to the corpus (name, type, size or a duplicate)."""


class DatasetError(QAError):
    """An evaluation dataset (BEIR folder or questions file) is missing a file or has a malformed line."""
