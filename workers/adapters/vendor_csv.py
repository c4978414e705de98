"""The vendor CSV price source: one file, or every CSV in the drop folder. A processed file
is moved to `archive/` beside it (and a file whose hash was processed before is skipped by
the prices job, so a file is never read twice). What the folder trusts of a file before it
reads it (regular, complete, bounded) is workers/adapters/drop_files.py."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TextIO

import structlog

from core.errors import NotAFileOfThisKind
from core.ports import PriceBatch
from core.prices import PriceRow, price_csv_parts, survey_price_csv
from core.rows import DEFAULT_WINDOW, DateWindow
from core.sources import keep_known_symbols
from core.values import ParseReport
from workers.adapters.drop_files import (
    DEFAULT_LIMITS,
    PART_SUFFIX,
    FileLimits,
    ReadDeadlinePassed,
    bounded_lines,
    poison_reason,
    settled,
)

log = structlog.get_logger(__name__)

#: Good rows per part of a streamed file: one COPY (or INSERT) and its rows in memory at a time.
PART_ROWS = 10_000


def read_price_file(
    path: Path,
    source: str,
    now: datetime,
    symbols: Sequence[str] = ("*",),
    window: DateWindow = DEFAULT_WINDOW,
    limits: FileLimits = DEFAULT_LIMITS,
) -> PriceBatch:
    """Check one vendor CSV file whole (a first pass: header, CSV, UTF-8, duplicates),
    keeping none of its rows; the batch streams them in parts when it is written. A file
    that is not a price file gives a rejected batch, and nothing of it is ever written.
    A price date outside `window` is a bad row. A file that is not a regular one, is over
    its size limit or cannot be checked within its read deadline gives a poison batch
    (quarantined unread)."""
    empty: ParseReport[PriceRow] = ParseReport(path.name)
    poison = poison_reason(path, limits)
    if poison is not None:
        return PriceBatch(source, empty, now, poison=poison, location=str(path))
    digest = file_sha256(path)
    published = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    today = now.date()
    deadline = time.monotonic() + limits.read_seconds

    def checked_lines() -> Iterator[str]:
        with _lines(path) as handle:
            yield from bounded_lines(handle, path.name, limits, deadline)

    try:
        survey = survey_price_csv(checked_lines, path.name, today, window)
    except UnicodeDecodeError as exc:
        return PriceBatch(
            source, empty, now, digest, rejected=f"{path.name}: not UTF-8 text ({exc.reason})", location=str(path)
        )
    except NotAFileOfThisKind as exc:
        return PriceBatch(source, empty, now, digest, rejected=str(exc), location=str(path))
    except ReadDeadlinePassed as exc:
        return PriceBatch(source, empty, now, digest, poison=str(exc), location=str(path))

    def parts() -> Iterator[ParseReport[PriceRow]]:
        with _lines(path) as handle:
            lines = bounded_lines(handle, path.name, limits)
            for part in price_csv_parts(lines, path.name, today, survey, PART_ROWS, window):
                yield keep_known_symbols(part, symbols)

    return PriceBatch(source, empty, now, digest, published_at=published, location=str(path), parts=parts)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as raw:
        while block := raw.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _lines(path: Path) -> TextIO:
    """The file's text lines as csv wants them (newline=""), a byte-order mark dropped."""
    return path.open(encoding="utf-8-sig", newline="")


class VendorCsvDropFolder:
    """Every complete `*.csv` in the drop folder, in name order (drop_files.py: a file still
    being written waits for the next fetch, `*.part` files are never read, what is not a
    regular file or is too large is quarantined unread)."""

    def __init__(
        self,
        name: str,
        folder: Path,
        symbols: Sequence[str],
        clock: Callable[[], datetime],
        window: DateWindow = DEFAULT_WINDOW,
        limits: FileLimits = DEFAULT_LIMITS,
    ) -> None:
        self.name = name
        self.folder = folder
        self.symbols = list(symbols)
        self._clock = clock
        self.window = window
        self.limits = limits

    def fetch(self, as_of: date, wanted: Mapping[str, date]) -> Iterator[PriceBatch]:
        if not self.folder.is_dir():
            return
        for path in sorted(self.folder.glob("*.csv")):
            if path.name.endswith(PART_SUFFIX) or not os.path.lexists(path):
                continue
            if poison_reason(path, self.limits) is None and not settled(path, self.limits):
                log.info("price_file_not_settled", file=path.name, settle_seconds=self.limits.settle_seconds)
                continue
            yield read_price_file(path, self.name, self._clock(), self.symbols, self.window, self.limits)

    def acknowledge(self, batch: PriceBatch) -> None:
        """Move the file to archive/, named with its date of processing and hash."""
        if batch.location is None:
            return
        path = Path(batch.location)
        if not os.path.lexists(path):
            return
        archive = self.folder / "archive"
        archive.mkdir(exist_ok=True)
        stamp = batch.fetched_at.strftime("%Y%m%dT%H%M%S")
        path.replace(archive / f"{stamp}-{(batch.file_sha256 or '')[:12]}-{path.name}")

    def quarantine(self, batch: PriceBatch, reason: str) -> None:
        """Move a poison file to quarantine/, its reason in `<name>.reason.txt` beside it:
        the other files of the folder still land, and no rerun trips on it again."""
        if batch.location is None or not os.path.lexists(batch.location):
            return
        path, folder = Path(batch.location), self.folder / "quarantine"
        folder.mkdir(exist_ok=True)
        target = folder / f"{batch.fetched_at.strftime('%Y%m%dT%H%M%S')}-{path.name}"
        path.replace(target)
        target.with_name(target.name + ".reason.txt").write_text(reason + "\n", encoding="utf-8")
