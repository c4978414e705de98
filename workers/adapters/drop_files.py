"""What a drop folder trusts of a file before it reads it: nothing.

- **Only regular files.** A symbolic link, a FIFO, a device, a socket or a folder named
  `*.csv` is set aside (quarantined) with its reason: reading `/dev/zero` or a FIFO never ends.
- **Only complete files.** A file is read once nothing has written to it for
  `HEDGEOPS_DROP_SETTLE_SECONDS` (its modification time is that old), or at once when it was
  renamed into place after its last write (its inode changed after its content did: the
  `NAME.csv.part` -> `NAME.csv` convention). A file still being written is left for the next
  fetch; `*.part` files are never read.
- **Bounded.** A file over `HEDGEOPS_PRICE_FILE_MAX_MB` is quarantined unread; a line over
  `MAX_LINE_CHARS` makes the file "not a price file" without reading the line whole; the
  first (checking) pass must end within `HEDGEOPS_PRICE_FILE_READ_SECONDS`, or the file is
  quarantined. Memory stays bounded by a line, whatever the file holds.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from core.errors import NotAFileOfThisKind

#: The longest line read (characters): a price row is well under 200.
MAX_LINE_CHARS = 65_536
#: The suffix of a file being written; renamed to `*.csv` when complete.
PART_SUFFIX = ".part"


class ReadDeadlinePassed(Exception):
    """The checking pass over a file took longer than its deadline."""


@dataclass(frozen=True, slots=True)
class FileLimits:
    settle_seconds: float = 2.0
    max_bytes: int = 256 * 1024 * 1024
    read_seconds: float = 120.0
    max_line_chars: int = MAX_LINE_CHARS


#: The limits when no setting says otherwise.
DEFAULT_LIMITS = FileLimits()


def kind_of(mode: int) -> str | None:
    """None for a regular file; else what the entry is."""
    if stat.S_ISREG(mode):
        return None
    for test, name in (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a folder"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def poison_reason(path: Path, limits: FileLimits) -> str | None:
    """Why `path` must be set aside unread (not a regular file, too large), or None."""
    entry = os.lstat(path)  # a link is judged as a link, never followed
    kind = kind_of(entry.st_mode)
    if kind is not None:
        return f"{path.name}: {kind}, not a regular file: only regular files are read"
    if entry.st_size > limits.max_bytes:
        return (
            f"{path.name}: {entry.st_size} bytes, over the limit of {limits.max_bytes} "
            "(HEDGEOPS_PRICE_FILE_MAX_MB): not read"
        )
    return None


def settled(path: Path, limits: FileLimits, wall_now: float | None = None) -> bool:
    """Nothing wrote to the file for `settle_seconds`, or it was renamed after its last write."""
    if limits.settle_seconds <= 0:
        return True
    entry = os.lstat(path)
    if entry.st_ctime_ns > entry.st_mtime_ns:  # renamed (or chmod-ed) after the last write
        return True
    now = time.time() if wall_now is None else wall_now
    return now - entry.st_mtime >= limits.settle_seconds


def bounded_lines(handle: TextIO, name: str, limits: FileLimits, deadline: float | None = None) -> Iterator[str]:
    """The handle's lines, none longer than `max_line_chars` (the file is then not a price
    file); every 1,024 lines the pass must still be before `deadline` (time.monotonic), or
    ReadDeadlinePassed."""
    number = 0
    while line := handle.readline(limits.max_line_chars + 1):
        number += 1
        if len(line) > limits.max_line_chars:
            raise NotAFileOfThisKind(
                f"{name}: line {number} is longer than {limits.max_line_chars} characters: not a price file"
            )
        if deadline is not None and number % 1024 == 0 and time.monotonic() > deadline:
            raise ReadDeadlinePassed(
                f"{name}: not read within {limits.read_seconds:g} s (HEDGEOPS_PRICE_FILE_READ_SECONDS)"
            )
        yield line
