"""Reading CSV text into validated rows: the header check and row-by-row reporting
shared by every CSV input. Pure: it takes text or its lines (an open file streams: one
row at a time), never a path."""

from __future__ import annotations

import csv
import io
import re
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, TypeVar

import numpy
from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, ValidationError, ValidationInfo

from core.errors import NotAFileOfThisKind
from core.identifiers import TEXT_CONTROLS
from core.money import EXACT_CONTEXT
from core.values import ParseReport, RowError

M = TypeVar("M", bound=BaseModel)

#: ASCII digits only: `\d` would read fullwidth `１２３` (and every other script's digits) as 123.
PLAIN_NUMBER = re.compile(r"^[+-]?[0-9]+(\.[0-9]+)?$")
#: An integer is ASCII digits too: pydantic alone reads `1_000` as 1000 and `true` as 1.
PLAIN_INTEGER = re.compile(r"^[+-]?[0-9]+$")
#: C0 controls (NUL, tabs and line breaks inside a field too), DEL and C1 controls, and the
#: bidirectional and zero-width ones (core.identifiers.TEXT_CONTROLS): no field of ours holds
#: one, and PostgreSQL refuses a NUL in text.
CONTROL = TEXT_CONTROLS
#: A date in a file is ISO text, YYYY-MM-DD: pydantic alone also reads `1763510400` (a Unix
#: time, as text or number) and `2026-11-19T00:00:00Z` as dates.
ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
#: Stored as NUMERIC(24, 6): at most 18 digits before the point.
LARGEST = Decimal("1E18")


def plain_decimal(value: object) -> object:
    """Numbers in files are plain: `2563.50`. No thousands separators, underscores or
    exponents, which Decimal() would otherwise read in its own way."""
    if isinstance(value, str) and not PLAIN_NUMBER.match(value):
        raise ValueError(f"not a plain decimal number: {value!r}")
    return value


def plain_integer(value: object) -> object:
    """An int (not a bool) or its plain digits; anything else is refused before pydantic reads it."""
    if (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, str) and PLAIN_INTEGER.match(value)
    ):
        return value
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    raise ValueError(f"not a plain integer: {shown}")


#: An integer read from a file (bounds added where it is used).
PlainInt = Annotated[int, BeforeValidator(plain_integer)]


def six_places(value: Decimal) -> Decimal:
    """Rounded half-even to 6 dp, as stored; must stay above zero and below 10^18 once
    rounded: 999999999999999999.9999995 is below 10^18 as written and 10^18 at 6 dp, which
    NUMERIC(24, 6) cannot hold (issue 21, point 7)."""
    rounded = value.quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN, context=EXACT_CONTEXT)
    if rounded <= 0:
        raise ValueError("must be greater than 0 at 6 decimal places")
    if rounded >= LARGEST:
        raise ValueError("must be less than 1E+18 at 6 decimal places")
    return rounded


#: A positive amount read from a file: plain text, then bounded, then 6 dp.
PositiveDecimal = Annotated[
    Decimal, BeforeValidator(plain_decimal), Field(gt=0, lt=LARGEST), AfterValidator(six_places)
]


@dataclass(frozen=True, slots=True)
class DateWindow:
    """The dates a file may name (HEDGEOPS_DATE_MIN and _MAX): 0001-01-01 or 9999-12-31 is a
    typo or a placeholder, not a price date or a maturity."""

    first: date = date(1990, 1, 1)
    last: date = date(2199, 12, 31)

    def problem(self, value: date) -> str | None:
        if self.first <= value <= self.last:
            return None
        return f"{value.isoformat()} is outside the date window {self.first.isoformat()}..{self.last.isoformat()}"


DEFAULT_WINDOW = DateWindow()


def window_context(window: DateWindow) -> dict[str, DateWindow]:
    """The validation context that gives `in_window` its window: `model_validate(.., context=)`."""
    return {"window": window}


def iso_date(value: object) -> object:
    """A date object, or text YYYY-MM-DD; anything else is refused before pydantic reads it."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and ISO_DATE.match(value):
        return value
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    raise ValueError(f"not a date YYYY-MM-DD: {shown}")


def in_window(value: date, info: ValidationInfo) -> date:
    """The window comes in the validation context (`{"window": DateWindow}`), else the default."""
    window = (info.context or {}).get("window", DEFAULT_WINDOW)
    problem = window.problem(value)
    if problem:
        raise ValueError(problem)
    return value


#: A date read from a file: ISO text, and within the window of sane dates.
SaneDate = Annotated[date, BeforeValidator(iso_date), AfterValidator(in_window)]


def control_problem(record: Sequence[str], names: Sequence[str]) -> str | None:
    """The first field holding a control character, named with the character."""
    for name, cell in zip(names, record, strict=False):
        found = CONTROL.search(cell)
        if found:
            return f"{name}: control character U+{ord(found.group()):04X} refused"
    return None


def describe(error: ValidationError) -> str:
    """One line per failed field, the field named first: `price: must be > 0`."""
    parts = []
    for item in error.errors():
        where = ".".join(str(x) for x in item["loc"]) or "row"
        parts.append(f"{where}: {item['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def csv_records(
    text: str | Iterable[str], file: str, header: Sequence[str], kind: str
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, record) after checking the header names `kind`'s columns;
    `text` is the whole text or its lines (a file opened with newline="")."""
    reader = csv.reader(io.StringIO(text, newline="") if isinstance(text, str) else text)
    try:
        first = next(reader)
    except StopIteration:
        raise NotAFileOfThisKind(f"{file}: empty file, expected a {kind} CSV") from None
    except csv.Error as exc:
        raise NotAFileOfThisKind(f"{file}: not CSV ({exc})") from None
    found = [h.strip() for h in first]
    twice = sorted({h for h in found if found.count(h) > 1 and h})
    if twice:
        raise NotAFileOfThisKind(f"{file}: header names {', '.join(twice)} more than once")
    missing = [h for h in header if h not in found]
    if missing:
        raise NotAFileOfThisKind(
            f"{file}: not a {kind} file: header lacks {', '.join(missing)} (expected {','.join(header)})"
        )
    try:
        for record in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(found):
                yield line, {"__error__": f"expected {len(found)} fields, found {len(record)}"}
                continue
            # One search over the whole record first: the cells are looked at one by one only
            # when it holds a control somewhere (rare), to name the field.
            if CONTROL.search("".join(record)) and (problem := control_problem(record, found)) is not None:
                yield line, {"__error__": problem}
                continue
            yield line, {name: cell.strip() for name, cell in zip(found, record, strict=True)}
    except csv.Error as exc:
        raise NotAFileOfThisKind(f"{file}: not CSV at line {reader.line_num} ({exc})") from None


#: A validator that vouches for a record without pydantic: the row `model` would make of it,
#: or None when it cannot vouch (then `model` decides, and names the reason of a bad row).
FastRow = Callable[[dict[str, str]], M | None]


def validated_rows(
    text: str | Iterable[str],
    file: str,
    header: Sequence[str],
    kind: str,
    model: type[M],
    check: Callable[[M], str | None] = lambda _row: None,
    window: DateWindow = DEFAULT_WINDOW,
    fast: FastRow[M] | None = None,
) -> Iterator[tuple[int, M] | RowError]:
    """Each record in file order: (line, row) when `model` (its dates within `window`) and
    `check` accept it, else its RowError. `fast`, when given, is asked first: a record it
    vouches for is not validated by `model` (a million-row file is a million pydantic calls
    otherwise); it must accept nothing that `model` refuses, and give the same row."""
    context = window_context(window)
    for line, record in csv_records(text, file, header, kind):
        if "__error__" in record:
            yield RowError(file, line, record["__error__"])
            continue
        row = fast(record) if fast is not None else None
        if row is None:
            try:
                row = model.model_validate(record, context=context)
            except ValidationError as exc:
                yield RowError(file, line, describe(exc))
                continue
        problem = check(row)
        yield RowError(file, line, problem) if problem else (line, row)


def parse_rows(
    text: str,
    file: str,
    header: Sequence[str],
    kind: str,
    model: type[M],
    check: Callable[[M], str | None] = lambda _row: None,
    window: DateWindow = DEFAULT_WINDOW,
    fast: FastRow[M] | None = None,
) -> ParseReport[M]:
    """Validate every record with `model` and `check`; keep good rows, report bad ones."""
    report: ParseReport[M] = ParseReport(file=file)
    for item in validated_rows(text, file, header, kind, model, check, window, fast):
        if isinstance(item, RowError):
            report.errors.append(item)
        else:
            report.rows.append(item)
    return report


def repeated_digests(digests: array[int]) -> set[int]:
    """The 64-bit digests given more than once (sorted by numpy: 8 bytes a row in memory,
    whatever the file's size). A digest stands for a key: two keys may share one, so what a
    repeated digest says is checked on the keys themselves by whoever asks."""
    ordered = numpy.sort(numpy.frombuffer(digests, dtype=numpy.int64))
    return set(ordered[1:][ordered[1:] == ordered[:-1]].tolist())
