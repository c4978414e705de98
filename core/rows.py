"""Reading CSV text into validated rows: the header check and row-by-row reporting
shared by every CSV input. Pure: it takes text or its lines (an open file streams: one
row at a time), never a path."""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, ValidationError

from core.errors import NotAFileOfThisKind
from core.values import ParseReport, RowError

M = TypeVar("M", bound=BaseModel)

PLAIN_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")
#: Stored as NUMERIC(24, 6): at most 18 digits before the point.
LARGEST = Decimal("1E18")


def plain_decimal(value: object) -> object:
    """Numbers in files are plain: `2563.50`. No thousands separators, underscores or
    exponents, which Decimal() would otherwise read in its own way."""
    if isinstance(value, str) and not PLAIN_NUMBER.match(value):
        raise ValueError(f"not a plain decimal number: {value!r}")
    return value


def six_places(value: Decimal) -> Decimal:
    """Rounded half-even to 6 dp, as stored; must stay above zero and below 10^18."""
    rounded = value.quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN)
    if rounded <= 0:
        raise ValueError("must be greater than 0 at 6 decimal places")
    return rounded


#: A positive amount read from a file: plain text, then bounded, then 6 dp.
PositiveDecimal = Annotated[Decimal, BeforeValidator(plain_decimal), Field(gt=0, lt=LARGEST),
                            AfterValidator(six_places)]


def describe(error: ValidationError) -> str:
    """One line per failed field, the field named first: `price: must be > 0`."""
    parts = []
    for item in error.errors():
        where = ".".join(str(x) for x in item["loc"]) or "row"
        parts.append(f"{where}: {item['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def csv_records(text: str | Iterable[str], file: str, header: Sequence[str],
                kind: str) -> Iterator[tuple[int, dict[str, str]]]:
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
    missing = [h for h in header if h not in found]
    if missing:
        raise NotAFileOfThisKind(
            f"{file}: not a {kind} file: header lacks {', '.join(missing)} "
            f"(expected {','.join(header)})"
        )
    try:
        for record in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(found):
                yield line, {"__error__": f"expected {len(found)} fields, found {len(record)}"}
                continue
            yield line, {name: cell.strip() for name, cell in zip(found, record, strict=True)}
    except csv.Error as exc:
        raise NotAFileOfThisKind(f"{file}: not CSV at line {reader.line_num} ({exc})") from None


def validated_rows(text: str | Iterable[str], file: str, header: Sequence[str], kind: str, model: type[M],
                   check: Callable[[M], str | None] = lambda _row: None) -> Iterator[tuple[int, M] | RowError]:
    """Each record in file order: (line, row) when `model` and `check` accept it, else its RowError."""
    for line, record in csv_records(text, file, header, kind):
        if "__error__" in record:
            yield RowError(file, line, record["__error__"])
            continue
        try:
            row = model.model_validate(record)
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
) -> ParseReport[M]:
    """Validate every record with `model` and `check`; keep good rows, report bad ones."""
    report: ParseReport[M] = ParseReport(file=file)
    for item in validated_rows(text, file, header, kind, model, check):
        if isinstance(item, RowError):
            report.errors.append(item)
        else:
            report.rows.append(item)
    return report
