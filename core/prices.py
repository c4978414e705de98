"""Settlement price rows: the vendor CSV format and its validation."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

import pycountry
from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, StringConstraints

from core import identifiers
from core.identifiers import CURRENCY_PATTERN, Unit
from core.money import price as quantize_price
from core.rows import DEFAULT_WINDOW, DateWindow, PositiveDecimal, SaneDate, parse_rows, validated_rows
from core.values import CONFIDENCE_BY_PRICE_TYPE, Confidence, ParseReport, PriceType, RowError

PRICE_HEADER = ("symbol", "price_date", "price", "currency", "unit", "price_type")
#: core.identifiers' (named here too: core.hedging.items imports it from this module).
Symbol = identifiers.Symbol


def iso_currency(code: str) -> str:
    """An active ISO 4217 code (pycountry's list): `USD` yes, `XYZ` or `usd` no."""
    if pycountry.currencies.get(alpha_3=code) is None:
        raise ValueError(f"unknown currency {code}")
    return code


def empty_is_none(value: object) -> object:
    return None if value == "" else value


CurrencyCode = Annotated[str, StringConstraints(pattern=CURRENCY_PATTERN), AfterValidator(iso_currency)]


class PriceRow(BaseModel):
    """One price as a source gives it. The price is per `unit`, in `currency`."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    symbol: Symbol
    price_date: SaneDate
    price: PositiveDecimal
    currency: CurrencyCode
    unit: Unit
    price_type: PriceType
    #: When the source published the price, if the source says (optional column).
    published_at: Annotated[AwareDatetime | None, BeforeValidator(empty_is_none)] = None

    @classmethod
    def trusted(cls, **values: Any) -> PriceRow:
        """A row from values a parser has already checked against these same rules (the ECB
        file has 220,000 of them): no validation, and none of model_construct's per-call
        bookkeeping either. tests/unit/test_price_rows.py holds it equal to model_validate."""
        row = cls.__new__(cls)
        object.__setattr__(row, "__dict__", {name: values.get(name) for name in _FIELDS})
        object.__setattr__(row, "__pydantic_fields_set__", set(values))
        object.__setattr__(row, "__pydantic_extra__", None)
        object.__setattr__(row, "__pydantic_private__", None)
        return row

    @property
    def confidence(self) -> Confidence:
        return CONFIDENCE_BY_PRICE_TYPE[self.price_type]

    @property
    def quantized_price(self) -> Decimal:
        """The price as stored (validation already rounded it to 6 dp)."""
        return quantize_price(self.price)


_FIELDS = tuple(PriceRow.model_fields)


def _not_future(today: date) -> Any:
    def not_future(row: PriceRow) -> str | None:
        if row.price_date > today:
            return f"price_date: {row.price_date.isoformat()} is in the future"
        return None

    return not_future


def parse_price_csv(text: str, file: str, today: date, window: DateWindow = DEFAULT_WINDOW) -> ParseReport[PriceRow]:
    """Validate a vendor price CSV row by row.

    Bad rows (unparsable, zero or negative price, a date after `today`, the same symbol
    and date twice with different prices) are reported with file, line and reason; good
    rows are kept. A file whose header is not a price header raises NotAFileOfThisKind.
    """
    report = parse_rows(text, file, PRICE_HEADER, "prices", PriceRow, _not_future(today), window)
    return drop_inconsistent_duplicates(report)


# -- streaming: a file of any size in bounded parts, in two passes --------------------------


def _duplicate_key(row: PriceRow) -> str:
    return f"{row.symbol} {row.price_date.isoformat()}"


@dataclass(slots=True)
class PriceFileSurvey:
    """What the first pass over a price file found: the (symbol, date) keys given twice
    with different prices (all their rows are refused) and those merely repeated (kept once)."""

    inconsistent: set[str] = field(default_factory=set)
    repeated: set[str] = field(default_factory=set)
    rows: int = 0


def survey_price_csv(
    lines: Iterable[str], file: str, today: date, window: DateWindow = DEFAULT_WINDOW
) -> PriceFileSurvey:
    """The first pass: validates every row, writes nothing, remembers one short key and
    price per row. Raises NotAFileOfThisKind as parse_price_csv does, before any write."""
    seen: dict[str, str] = {}
    survey = PriceFileSurvey()
    for item in validated_rows(lines, file, PRICE_HEADER, "prices", PriceRow, _not_future(today), window):
        if isinstance(item, RowError):
            continue
        survey.rows += 1
        key, value = _duplicate_key(item[1]), str(item[1].quantized_price)
        stored = seen.setdefault(key, value)
        if stored is not value:
            (survey.repeated if stored == value else survey.inconsistent).add(key)
    survey.repeated -= survey.inconsistent
    return survey


def price_csv_parts(
    lines: Iterable[str],
    file: str,
    today: date,
    survey: PriceFileSurvey,
    size: int,
    window: DateWindow = DEFAULT_WINDOW,
) -> Iterator[ParseReport[PriceRow]]:
    """The second pass: reports of at most `size` good rows each (and the bad rows met on
    the way), as parse_price_csv would report the whole file."""
    part: ParseReport[PriceRow] = ParseReport(file)
    kept: set[str] = set()
    for item in validated_rows(lines, file, PRICE_HEADER, "prices", PriceRow, _not_future(today), window):
        if isinstance(item, RowError):
            part.errors.append(item)
            continue
        line, row = item
        key = _duplicate_key(row)
        if key in survey.inconsistent:
            part.errors.append(RowError(file, line, f"duplicate {key} with a different price ({row.price})"))
        elif key not in survey.repeated or key not in kept:
            kept.update((key,) if key in survey.repeated else ())
            part.rows.append(item)
        if len(part.rows) >= size:
            yield part
            part = ParseReport(file)
    if part.rows or part.errors:
        yield part


def drop_inconsistent_duplicates(report: ParseReport[PriceRow]) -> ParseReport[PriceRow]:
    """The same symbol and date with two different prices in one file: both are refused.

    An exact repeat is harmless and kept once.
    """
    by_key: dict[tuple[str, date], list[tuple[int, PriceRow]]] = {}
    for line, row in report.rows:
        by_key.setdefault((row.symbol, row.price_date), []).append((line, row))
    kept: list[tuple[int, PriceRow]] = []
    for (symbol, day), entries in by_key.items():
        values = {row.quantized_price for _, row in entries}
        if len(values) == 1:
            kept.append(entries[0])
            continue
        for line, row in entries:
            report.errors.append(
                RowError(
                    report.file,
                    line,
                    f"duplicate {symbol} {day.isoformat()} with a different price ({row.price})",
                )
            )
    kept.sort(key=lambda item: item[0])
    report.rows = kept
    report.errors.sort(key=lambda e: e.line)
    return report
