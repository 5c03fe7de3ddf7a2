"""Reading a file that someone else may have planted: only a plain file, and only so much of it.

A run folder is on disk where anyone with access to the server can change it. A FIFO in place
of metrics.json makes a plain `read_text()` wait forever (and the page with it); a link to
/dev/zero reports size 0 and reads without end. So the file is opened without following a
link and without waiting, must be a regular file, and is read up to a bound, whatever size it
reports.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


class UnsafeFile(ValueError):
    """Not a plain file of bounded size; the message names the file and what is wrong with it."""


def read_plain_file(path: Path, max_bytes: int) -> bytes:
    """The file's bytes; FileNotFoundError if it is missing, UnsafeFile if it is a link, not a
    regular file, or longer than `max_bytes`."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise UnsafeFile(f"{path.name} is a link; only plain files are read") from None
        raise
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnsafeFile(f"{path.name} is not a plain file (a pipe or a device?); only plain files are read")
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UnsafeFile(f"{path.name} is larger than {max_bytes / 2**20:g} MB")
    return data


def is_plain_folder(path: Path) -> bool:
    """A real folder, not a link to one (which could lead anywhere on the disk)."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def error_words(err: BaseException) -> str:
    """An error as words for a page: an OSError's reason without the server's paths (which say
    nothing to a visitor and too much about the server), any other error's own message."""
    if isinstance(err, OSError) and err.strerror:
        return f"{err.strerror} (on the server's disk)"
    return str(err)
