"""Write failures during a build (disk full, no permission) as one domain error that says what to do.

A rebuild writes only to the embedding cache and to a new generation folder; ``CURRENT`` is replaced last, so when
a write fails the previous generation is still the live one, and the message can say so. SQLite reports the same
failures as ``OperationalError`` with its own wording, so both are translated here.

>>> import errno
>>> error = index_write_error(OSError(errno.ENOSPC, "No space left on device"), Path("index"), had_index=True)
>>> str(error).split(":")[0]
'no space left on device while writing the index in index'
"""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from qa.errors import IndexWriteError
from qa.index.store import CURRENT

_NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_NO_ACCESS = {errno.EACCES, errno.EPERM, errno.EROFS}


def index_write_error(exc: OSError | sqlite3.OperationalError, index_dir: Path, *, had_index: bool) -> IndexWriteError:
    """The domain error for a failed write into ``index_dir``, naming the cause and the fix."""
    where = f"while writing the index in {index_dir}"
    kept = ("the previous index is intact and still answers" if had_index else "no index was written")
    code = exc.errno if isinstance(exc, OSError) else None
    text = str(exc).lower()
    if code in _NO_SPACE or "disk is full" in text:
        return IndexWriteError(f"no space left on device {where}: free some space (or pass --index on a disk "
                               f"with room), then run `qa index` again; {kept}")
    if code in _NO_ACCESS or "readonly" in text or "unable to open" in text:
        name = f" ({exc.filename})" if isinstance(exc, OSError) and exc.filename else ""
        return IndexWriteError(f"permission denied {where}{name}: make the folder writable (or pass --index "
                               f"with a writable folder), then run `qa index` again; {kept}")
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return IndexWriteError(f"cannot write the index in {index_dir} ({reason}): check the disk, then run "
                           f"`qa index` again; {kept}")


@contextmanager
def index_writes(index_dir: Path) -> Iterator[None]:
    """Turn OS and SQLite write failures inside the block into ``IndexWriteError``."""
    had_index = (index_dir / CURRENT).is_file()
    try:
        yield
    except (OSError, sqlite3.OperationalError) as exc:
        raise index_write_error(exc, index_dir, had_index=had_index) from exc
