"""Settlement price rows: the vendor CSV format and its validation."""

from __future__ import annotations

import re
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import pycountry
from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, StringConstraints

from core import identifiers
from core.identifiers import CURRENCY_PATTERN, SYMBOL_PATTERN, UNIT_PATTERN, Unit
from core.money import price as quantize_price
from core.rows import (
    DEFAULT_WINDOW,
    ISO_DATE,
    LARGEST,
    PLAIN_NUMBER,
    DateWindow,
    PositiveDecimal,
    SaneDate,
    csv_records,
    parse_rows,
    repeated_digests,
    six_places,
    validated_rows,
    window_context,
)
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
    report = parse_rows(text, file, PRICE_HEADER, "prices", PriceRow, _not_future(today), window, FastPriceRows(window))
    return drop_inconsistent_duplicates(report)


# -- the fast path: a well-formed record without pydantic ----------------------------------

_SYMBOL = re.compile(SYMBOL_PATTERN)
_UNIT = re.compile(UNIT_PATTERN)
_CURRENCY = re.compile(CURRENCY_PATTERN)
_PRICE_TYPES = {t.value: t for t in PriceType}
_new_row = PriceRow.__new__
_set = object.__setattr__
#: The fields a vouched record gives (PriceRow.trusted's `__pydantic_fields_set__`).
_GIVEN = frozenset(PRICE_HEADER)
_GIVEN_WITH_PUBLISHED = _GIVEN | {"published_at"}


class FastPriceRows:
    """PriceRow's rules written out for the common record (issue 23: a million-row file was
    a million pydantic validations, twice): the row PriceRow.model_validate would give, or
    None whenever it is not sure (a bad cell, a `published_at`, anything unusual), and then
    pydantic decides and names the reason. It accepts a subset of what the model accepts,
    and gives the same row (tests/unit/test_price_fast_rows.py holds it to that). Symbols,
    units, currencies and dates repeat down a file: each distinct one is checked once."""

    def __init__(self, window: DateWindow = DEFAULT_WINDOW) -> None:
        self.window = window
        self._symbols: set[str] = set()
        self._units: set[str] = set()
        self._currencies: set[str] = set()
        self._dates: dict[str, date] = {}

    def __call__(self, record: dict[str, str]) -> PriceRow | None:
        vouched = self.vouch(record)
        if vouched is None:
            return None
        day, price, price_type = vouched
        # PriceRow.trusted, written out: its keyword call alone cost as much as the rest.
        row = _new_row(PriceRow)
        _set(
            row,
            "__dict__",
            {
                "symbol": record["symbol"],
                "price_date": day,
                "price": price,
                "currency": record["currency"],
                "unit": record["unit"],
                "price_type": price_type,
                "published_at": None,
            },
        )
        _set(row, "__pydantic_fields_set__", set(_GIVEN_WITH_PUBLISHED if "published_at" in record else _GIVEN))
        _set(row, "__pydantic_extra__", None)
        _set(row, "__pydantic_private__", None)
        return row

    def vouch(self, record: dict[str, str]) -> tuple[date, Decimal, PriceType] | None:
        """The record's date, price and price type when the fast path vouches for it (its
        symbol, unit and currency are the record's cells as they are), else None."""
        if record.get("published_at"):
            return None
        price_type = _PRICE_TYPES.get(record["price_type"])
        day = self._dates.get(record["price_date"]) or self._date(record["price_date"])
        price = _price(record["price"])
        if price_type is None or day is None or price is None:
            return None
        if not (
            self._known(record["symbol"], self._symbols, _SYMBOL) and self._known(record["unit"], self._units, _UNIT)
        ):
            return None
        currency = record["currency"]
        if currency not in self._currencies and not self._currency(currency):
            return None
        return day, price, price_type

    @staticmethod
    def _known(value: str, seen: set[str], pattern: re.Pattern[str]) -> bool:
        if value in seen:
            return True
        if pattern.fullmatch(value) is None:
            return False
        seen.add(value)
        return True

    def _date(self, text: str) -> date | None:
        if not ISO_DATE.match(text):
            return None
        try:
            value = date.fromisoformat(text)
        except ValueError:
            return None
        if self.window.problem(value) is not None:
            return None
        self._dates[text] = value
        return value

    def _currency(self, code: str) -> bool:
        if _CURRENCY.fullmatch(code) is None or pycountry.currencies.get(alpha_3=code) is None:
            return False
        self._currencies.add(code)
        return True


def _price(text: str) -> Decimal | None:
    """PositiveDecimal's rules: plain text, above 0 and below 10^18, then 6 dp (six_places)."""
    if len(text) > 40 or not PLAIN_NUMBER.match(text):
        return None
    try:
        value = Decimal(text)
        if not 0 < value < LARGEST:
            return None
        return six_places(value)
    except (ValueError, InvalidOperation):
        return None


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


def _digest(key: str) -> int:
    """A 64-bit digest of a key (Python's hash: one process reads both looks of a survey)."""
    return hash(key)


def survey_price_csv(
    lines: Callable[[], Iterable[str]], file: str, today: date, window: DateWindow = DEFAULT_WINDOW
) -> PriceFileSurvey:
    """The first pass: validates every row and writes nothing; remembers a 64-bit digest of
    each good row's (symbol, date), 8 bytes a row. Only when a digest comes twice does a
    second look (`lines` gives the file's lines afresh at each call) compare those keys'
    prices exactly. Raises NotAFileOfThisKind as parse_price_csv does, before any write."""
    survey = PriceFileSurvey()
    digests = array("q")
    check, fast = _not_future(today), FastPriceRows(window)
    context = window_context(window)
    for _line, record in csv_records(lines(), file, PRICE_HEADER, "prices"):
        if "__error__" in record:
            continue
        # The common row builds nothing: the fast path's word and the key from its cells.
        vouched = fast.vouch(record)
        if vouched is not None and vouched[0] <= today:
            key = f"{record['symbol']} {record['price_date']}"
        elif (row := _valid_row(record, context, check)) is not None:
            key = _duplicate_key(row)
        else:
            continue
        survey.rows += 1
        digests.append(_digest(key))
    twice = repeated_digests(digests)
    del digests
    if twice:
        _second_look(lines, file, check, window, fast, twice, survey)
    return survey


def _valid_row(
    record: dict[str, str], context: dict[str, DateWindow], check: Callable[[PriceRow], str | None]
) -> PriceRow | None:
    """The row pydantic makes of `record` when it and `check` accept it, else None."""
    try:
        row = PriceRow.model_validate(record, context=context)
    except ValueError:
        return None
    return row if check(row) is None else None


def _second_look(
    lines: Callable[[], Iterable[str]],
    file: str,
    check: Callable[[PriceRow], str | None],
    window: DateWindow,
    fast: FastPriceRows,
    twice: set[int],
    survey: PriceFileSurvey,
) -> None:
    """The prices of the good rows whose key's digest came twice, compared exactly. A good
    row's key is its cells as csv_records strips them (the symbol and ISO date are kept as
    written), so only those rows are validated again."""
    prices: dict[str, list[str]] = {}
    context = {"window": window}
    for _line, record in csv_records(lines(), file, PRICE_HEADER, "prices"):
        if "__error__" in record or _digest(f"{record['symbol']} {record['price_date']}") not in twice:
            continue
        row = fast(record)
        if row is None:
            try:
                row = PriceRow.model_validate(record, context=context)
            except ValueError:
                continue
        if check(row) is None:
            prices.setdefault(_duplicate_key(row), []).append(str(row.quantized_price))
    for key, values in prices.items():
        if len(set(values)) > 1:
            survey.inconsistent.add(key)
        elif len(values) > 1:
            survey.repeated.add(key)


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
    fast = FastPriceRows(window)
    duplicates = bool(survey.inconsistent or survey.repeated)
    for item in validated_rows(lines, file, PRICE_HEADER, "prices", PriceRow, _not_future(today), window, fast):
        if isinstance(item, RowError):
            part.errors.append(item)
            continue
        line, row = item
        if not duplicates:  # the common file: no key given twice, nothing to look up
            part.rows.append(item)
        elif (key := _duplicate_key(row)) in survey.inconsistent:
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
