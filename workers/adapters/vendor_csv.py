"""The vendor CSV price source: one file, or every CSV in the drop folder."""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path

from core.errors import NotAFileOfThisKind
from core.ports import PriceBatch
from core.prices import parse_price_csv
from core.values import ParseReport


def read_price_file(path: Path, source: str, now: datetime) -> PriceBatch:
    """Parse one vendor CSV file. A file that is not a price file gives a rejected batch."""
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    try:
        text = data.decode("utf-8-sig")
        report = parse_price_csv(text, path.name, today=now.date())
    except UnicodeDecodeError as exc:
        return PriceBatch(source, ParseReport(path.name), now, digest, rejected=f"{path.name}: not UTF-8 text ({exc.reason})")
    except NotAFileOfThisKind as exc:
        return PriceBatch(source, ParseReport(path.name), now, digest, rejected=str(exc))
    return PriceBatch(source, report, now, digest)


class VendorCsvDropFolder:
    """Every `*.csv` in the drop folder, in name order. (Archiving processed files and
    skipping files already seen by hash come with the market-data work.)"""

    def __init__(self, folder: Path, name: str, clock: Callable[[], datetime]) -> None:
        self.folder = folder
        self.name = name
        self._clock = clock

    def fetch(self, as_of: date) -> Iterator[PriceBatch]:
        if not self.folder.is_dir():
            return
        for path in sorted(self.folder.glob("*.csv")):
            yield read_price_file(path, self.name, self._clock())
