"""The ECB euro foreign exchange reference rates file (`eurofxref-hist.csv`, or the daily
`eurofxref.csv`): rates per 1 EUR, one column per currency, newest row first, `N/A` where
there is no rate, and a trailing comma on every line.

A rate of currency CCY on day D becomes the price of symbol `EURCCY` on D: CCY per 1 EUR,
price type `reference` (confidence REFERENCE), unit `EUR`.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Collection, Iterator
from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo
from decimal import Decimal

from core.errors import NotAFileOfThisKind
from core.prices import PriceRow
from core.rows import LARGEST, plain_decimal, six_places
from core.values import ParseReport, PriceType, RowError

NO_RATE = {"N/A", ""}
FRANKFURT = ZoneInfo("Europe/Berlin")
PUBLICATION_TIME = time(16, 0)
CURRENCY = re.compile(r"^[A-Z]{3}$")
DATE_FORMATS = ("%Y-%m-%d", "%d %B %Y")


def ecb_symbol(currency: str) -> str:
    return f"EUR{currency}"


def _day(text: str) -> date:
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    raise ValueError(f"Date: {text!r} is not YYYY-MM-DD")


def _header(reader: Iterator[list[str]], file: str) -> list[str]:
    try:
        header = [h.strip() for h in next(reader)]
    except (StopIteration, csv.Error):
        raise NotAFileOfThisKind(f"{file}: empty or not CSV, expected an ECB reference-rate file") from None
    if not header or header[0] != "Date" or len(header) < 2:
        raise NotAFileOfThisKind(f"{file}: not an ECB reference-rate file: the header must start with Date")
    return header


def parse_ecb_csv(text: str, file: str, today: date, currencies: Collection[str] | None = None, *,
                  since: date | None = None, until: date | None = None) -> ParseReport[PriceRow]:
    """Every rate of the chosen currencies (all when None) dated from `since` to `until`
    (both optional, included) as a price row; `N/A` is no rate and no error; an unreadable
    rate or date is a bad row reported with its line."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = _header(reader, file)
    columns = [(i, ccy) for i, ccy in enumerate(header)
               if i > 0 and CURRENCY.match(ccy) and (currencies is None or ccy in currencies)]
    report: ParseReport[PriceRow] = ParseReport(file=file)
    for record in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        try:
            day = _day(record[0])
        except ValueError as exc:
            report.errors.append(RowError(file, line, str(exc)))
            continue
        if (since and day < since) or (until and day > until):
            continue
        if day > today:
            report.errors.append(RowError(file, line, f"price_date: {day.isoformat()} is in the future"))
            continue
        _add_line(report, line, day, [(currency, record[i].strip() if i < len(record) else "")
                                      for i, currency in columns])
    return report


def _rate(cell: str) -> Decimal:
    """The checks of PriceRow.price, without pydantic's per-row cost (the history has
    220,000 rates): plain decimal text, 6 dp half-even, above zero, below 10^18."""
    plain_decimal(cell)
    value = six_places(Decimal(cell))
    if value >= LARGEST:
        raise ValueError(f"{cell} is not below 10^18")
    return value


def _add_line(report: ParseReport[PriceRow], line: int, day: date, cells: list[tuple[str, str]]) -> None:
    """The rates of one day; a bad cell is reported and the others of the line still land."""
    published = published_at(day)
    for currency, cell in cells:
        if cell in NO_RATE:
            continue
        try:
            rate = _rate(cell)
        except (ValueError, ArithmeticError) as exc:
            report.errors.append(RowError(report.file, line, f"{currency}: {exc}"))
            continue
        report.rows.append((line, PriceRow.trusted(
            symbol=ecb_symbol(currency), price_date=day, price=rate, currency=currency, unit="EUR",
            price_type=PriceType.REFERENCE, published_at=published)))


def published_at(day: date) -> datetime:
    """The ECB publishes the day's reference rates at about 16:00 Frankfurt time."""
    return datetime.combine(day, PUBLICATION_TIME, tzinfo=FRANKFURT).astimezone(timezone.utc)


CROSS_SOURCE = "ecb_cross"


def cross_legs(pair: str) -> tuple[str | None, str | None]:
    """The ECB symbols of a cross XY = EURY / EURX: (numerator EURY, denominator EURX); a
    leg of EUR itself is 1 (None): USDEUR = 1 / EURUSD."""
    base, quote = pair[:3], pair[3:]
    return (None if quote == "EUR" else ecb_symbol(quote)), (None if base == "EUR" else ecb_symbol(base))


def cross_rate(numerator: Decimal, denominator: Decimal) -> Decimal:
    """XY = EURY / EURX (Y per 1 X), from the two legs as stored (6 dp each, rates per 1 EUR).

    The quotient is taken at full precision (28 digits) and rounded half-even to 6 dp once,
    like every stored rate: GBPUSD = 1.0811 / 0.85720 = 1.261199...-> 1.261199.
    """
    return six_places(numerator / denominator)


def derive_cross(rows: list[tuple[int, PriceRow]], pair: str) -> list[tuple[int, PriceRow]]:
    """The rows of cross `pair` from ECB rows, on each date both legs have a rate (a cross
    is never present without both); each keeps the line its legs came from."""
    numerator, denominator = cross_legs(pair)
    by_day: dict[date, dict[str, tuple[int, PriceRow]]] = {}
    for line, row in rows:
        by_day.setdefault(row.price_date, {})[row.symbol] = (line, row)
    derived = []
    for day, found in sorted(by_day.items()):
        legs = [found.get(s) if s is not None else None for s in (numerator, denominator)]
        if any(s is not None and leg is None for s, leg in zip((numerator, denominator), legs)):
            continue
        top, bottom = (leg[1].price if leg is not None else Decimal(1) for leg in legs)
        line = next(leg[0] for leg in legs if leg is not None)
        derived.append((line, PriceRow.trusted(
            symbol=pair, price_date=day, price=cross_rate(top, bottom), currency=pair[3:], unit=pair[:3],
            price_type=PriceType.REFERENCE, published_at=published_at(day))))
    return derived


def cross_provenance(pair: str, source: str) -> str:
    """What a cross's rows name as their origin (the batch's request id): both legs, by the
    symbol and source of their price rows on the cross's own date."""
    numerator, denominator = cross_legs(pair)
    return f"{pair} = {numerator or '1'} / {denominator or '1'} ({source} rows of the same date)"
