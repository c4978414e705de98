"""The ECB euro foreign exchange reference rates file (`eurofxref-hist.csv`, or the daily
`eurofxref.csv`): rates per 1 EUR, one column per currency, newest row first, `N/A` where
there is no rate, and a trailing comma on every line.

A rate of currency CCY on day D becomes the price of symbol `EURCCY` on D: CCY per 1 EUR,
price type `reference` (confidence REFERENCE), unit `EUR`.

Crosses (`GBPUSD = EURUSD / EURGBP`, `USDEUR = 1 / EURUSD`) are derived from the stored
rows of those rates, each naming the two rows it came from (`derive_cross`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from core.errors import NotAFileOfThisKind
from core.prices import PriceRow
from core.rows import DEFAULT_WINDOW, LARGEST, DateWindow, plain_decimal, six_places
from core.values import ParseReport, Price, PriceType, RowError

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


def parse_ecb_csv(
    text: str,
    file: str,
    today: date,
    currencies: Collection[str] | None = None,
    *,
    since: date | None = None,
    until: date | None = None,
    window: DateWindow = DEFAULT_WINDOW,
) -> ParseReport[PriceRow]:
    """Every rate of the chosen currencies (all when None) dated from `since` to `until`
    (both optional, included) as a price row; `N/A` is no rate and no error; an unreadable
    rate or date, or a date outside `window` (HEDGEOPS_DATE_MIN/_MAX), is a bad row
    reported with its line."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = _header(reader, file)
    columns = [
        (i, ccy)
        for i, ccy in enumerate(header)
        if i > 0 and CURRENCY.match(ccy) and (currencies is None or ccy in currencies)
    ]
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
        outside = window.problem(day)
        if outside:
            report.errors.append(RowError(file, line, f"Date: {outside}"))
            continue
        if day > today:
            report.errors.append(RowError(file, line, f"price_date: {day.isoformat()} is in the future"))
            continue
        _add_line(
            report, line, day, [(currency, record[i].strip() if i < len(record) else "") for i, currency in columns]
        )
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
        report.rows.append(
            (
                line,
                PriceRow.trusted(
                    symbol=ecb_symbol(currency),
                    price_date=day,
                    price=rate,
                    currency=currency,
                    unit="EUR",
                    price_type=PriceType.REFERENCE,
                    published_at=published,
                ),
            )
        )


def published_at(day: date) -> datetime:
    """The ECB publishes the day's reference rates at about 16:00 Frankfurt time."""
    return datetime.combine(day, PUBLICATION_TIME, tzinfo=FRANKFURT).astimezone(UTC)


CROSS_SOURCE = "ecb_cross"


@dataclass(frozen=True, slots=True)
class EcbCrosses:
    """Which crosses to derive (HEDGEOPS_ECB_CROSSES), and the source whose stored ECB
    rows are their legs."""

    pairs: tuple[str, ...]
    legs_source: str

    def leg_symbols(self) -> set[str]:
        return {symbol for pair in self.pairs for symbol in cross_legs(pair) if symbol is not None}


@dataclass(frozen=True, slots=True)
class CrossPrice:
    """A derived cross rate and the stored price rows it is the quotient of: the ids of
    its numerator EURY and denominator EURX rows (None for a leg of EUR itself, which is 1)."""

    row: PriceRow
    numerator_price_id: int | None
    denominator_price_id: int | None


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


def derive_cross(legs: Iterable[Price], pair: str) -> list[CrossPrice]:
    """Cross `pair` on each date both its legs have a stored rate (a cross is never present
    without both, so it follows the legs' TARGET calendar), each naming its legs' price ids.
    `legs` are stored ECB rates of one source; other symbols are ignored."""
    numerator, denominator = cross_legs(pair)
    by_day: dict[date, dict[str, Price]] = {}
    for leg in legs:
        by_day.setdefault(leg.price_date, {})[leg.symbol] = leg
    derived = []
    for day, found in sorted(by_day.items()):
        top, bottom = (found.get(s) if s is not None else None for s in (numerator, denominator))
        if (numerator is not None and top is None) or (denominator is not None and bottom is None):
            continue
        price = cross_rate(top.price if top else Decimal(1), bottom.price if bottom else Decimal(1))
        row = PriceRow.trusted(
            symbol=pair,
            price_date=day,
            price=price,
            currency=pair[3:],
            unit=pair[:3],
            price_type=PriceType.REFERENCE,
            published_at=published_at(day),
        )
        derived.append(CrossPrice(row, top.id if top else None, bottom.id if bottom else None))
    return derived
