"""Fakes of our ports (not mocks): an in-memory price source and a settable clock."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from core.ports import PriceBatch
from core.prices import parse_price_csv


@dataclass
class InMemoryPriceSource:
    """Price files given as text; `fetch` parses them like the drop folder would."""

    name: str = "vendor_csv"
    files: dict[str, str] = field(default_factory=dict)
    now: datetime = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)
    acknowledged: list[str] = field(default_factory=list)

    def add(self, file: str, text: str) -> None:
        self.files[file] = text

    def fetch(self, as_of: date, wanted: Mapping[str, date]) -> Iterator[PriceBatch]:
        for file in sorted(self.files):
            yield PriceBatch(self.name, parse_price_csv(self.files[file], file, today=self.now.date()), self.now)

    def acknowledge(self, batch: PriceBatch) -> None:
        self.acknowledged.append(batch.report.file)


@dataclass
class Clock:
    now: datetime = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now
