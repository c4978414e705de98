"""Hedge contract rows: the contracts CSV format, its validation and change rules."""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Annotated

import numpy
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from core.hedging.fx import SettlementMethod, fx_terms_problem
from core.hedging.lifecycle import status_problem
from core.hedging.settlement import ECB_FIXING
from core.identifiers import Ref, Symbol, Unit
from core.prices import CurrencyCode
from core.rows import (
    DEFAULT_WINDOW,
    DateWindow,
    PositiveDecimal,
    SaneDate,
    csv_records,
    validated_rows,
    window_context,
)
from core.values import ContractStatus, Instrument, ParseReport, RowError, Side

CONTRACT_HEADER = (
    "contract_ref",
    "instrument",
    "underlying",
    "side",
    "quantity",
    "unit",
    "entry_price",
    "currency",
    "trade_date",
    "maturity_date",
    "status",
)
#: Fields a reload of any stored contract may change (by the lifecycle's steps the contracts
#: file makes; applied and audited); a draft fx_forward's terms too
#: (core.hedging.lifecycle.amendable); any other is an error.
MUTABLE_FIELDS = frozenset({"status"})
#: Optional columns: settlement_method, which fx_forward rows need (deliverable or ndf) and
#: commodity rows leave empty; de_designated_on, the effective date of a change to
#: de_designated (empty: the day the file is loaded; docs/hedge-accounting.md); counterparty,
#: the counterparty_id of a loaded counterparty (empty or no column: not stated, the stored
#: one kept; docs/counterparties.md); fixing_source, where a settlement's fixing is read
#: (`ecb` or a configured price source; empty: ECB for an fx_forward, the settlement price's
#: source for a commodity forward; docs/hedge-accounting.md, "Settlement").
OPTIONAL_COLUMNS = ("settlement_method", "de_designated_on", "counterparty", "fixing_source")
#: Columns that are not fields compared on a reload (db.contracts handles each).
NOT_COMPARED = frozenset({"de_designated_on", "counterparty"})


def _empty_is_none(value: object) -> object:
    return None if value == "" else value


class ContractRow(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    contract_ref: Ref
    instrument: Instrument
    underlying: Symbol
    side: Side
    quantity: PositiveDecimal
    unit: Unit
    entry_price: PositiveDecimal
    currency: CurrencyCode
    trade_date: SaneDate
    maturity_date: SaneDate
    status: ContractStatus
    settlement_method: Annotated[SettlementMethod | None, BeforeValidator(_empty_is_none)] = None
    #: Not a field of the contract: the effective date of its change to de_designated (audited).
    de_designated_on: Annotated[SaneDate | None, BeforeValidator(_empty_is_none)] = None
    #: The counterparty_id of a loaded counterparty; known or not is the load's check (db.contracts).
    counterparty: Annotated[Ref | None, BeforeValidator(_empty_is_none)] = None
    #: Where the settlement's fixing is read; configured or not is the load's check (tasks.loading).
    fixing_source: Annotated[Ref | None, BeforeValidator(_empty_is_none)] = None

    def fields(self) -> dict[str, object]:
        return self.model_dump(exclude=set(NOT_COMPARED))


def contract_rows(
    text: str | Iterable[str], file: str, window: DateWindow = DEFAULT_WINDOW
) -> Iterator[tuple[int, ContractRow] | RowError]:
    """Each row of a contracts CSV (its whole text, or its lines as a file opened with
    newline="" gives them) in file order: (line, row), or its RowError. A repeated
    contract_ref is an error. Streams: it keeps only the refs seen, never the rows."""

    first_line: dict[str, int] = {}
    for item in validated_rows(text, file, CONTRACT_HEADER, "contracts", ContractRow, _check, window):
        if isinstance(item, RowError):
            yield item
            continue
        line, row = item
        first = first_line.setdefault(row.contract_ref, line)
        if first != line:
            yield RowError(file, line, f"contract_ref: {row.contract_ref} repeated (first at line {first})")
            continue
        yield line, row


@dataclass(slots=True)
class ContractSurvey:
    """The first pass over a contracts file: its rows, the bad ones (the first MAX_ERRORS
    kept, all counted). Repeated refs are found by a 64-bit digest of each ref (8 bytes a
    row, whatever the file's size), then named with their lines by a second look."""

    rows: int = 0
    bad: int = 0
    errors: list[RowError] = field(default_factory=list)
    #: Each fixing_source named, with the first line naming it (few: checked by the load).
    fixing_sources: dict[str, int] = field(default_factory=dict)

    def add(self, error: RowError) -> None:
        self.bad += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(error)


#: Bad rows listed by a refused load; the rest are counted.
MAX_ERRORS = 1000


def _digest(ref: str) -> int:
    return int.from_bytes(hashlib.blake2b(ref.encode(), digest_size=8).digest(), "little")


def survey_contracts(
    lines: Callable[[], Iterable[str]], file: str, window: DateWindow = DEFAULT_WINDOW
) -> ContractSurvey:
    """Validate every row of a contracts file in bounded memory (`lines` gives the file's
    lines afresh at each call: a second look when a ref may be repeated)."""
    survey = ContractSurvey()
    digests = array("Q")
    for item in validated_rows(lines(), file, CONTRACT_HEADER, "contracts", ContractRow, _check, window):
        if isinstance(item, RowError):
            survey.add(item)
            continue
        survey.rows += 1
        line, row = item
        digests.append(_digest(row.contract_ref))
        if row.fixing_source is not None:
            survey.fixing_sources.setdefault(row.fixing_source, line)
    ordered = numpy.sort(numpy.frombuffer(digests, dtype=numpy.uint64))
    twice = set(ordered[1:][ordered[1:] == ordered[:-1]].tolist())
    if twice:
        for error in _repeated(lines, file, window, twice):
            survey.add(error)
        survey.errors.sort(key=lambda e: e.line)
    return survey


def _repeated(
    lines: Callable[[], Iterable[str]], file: str, window: DateWindow, digests: set[int]
) -> Iterator[RowError]:
    """The second look: each repeat of a ref whose digest was seen twice, with its first line.
    Only the rows whose ref (a cell as csv_records strips it, which is the validated ref) has
    such a digest are validated again: a bad row is no first occurrence."""
    first_line: dict[str, int] = {}
    context = window_context(window)
    for line, record in csv_records(lines(), file, CONTRACT_HEADER, "contracts"):
        ref = record.get("contract_ref")
        if ref is None or _digest(ref) not in digests:
            continue
        try:
            row = ContractRow.model_validate(record, context=context)
        except ValidationError:
            continue
        if _check(row) is not None:
            continue
        first = first_line.setdefault(row.contract_ref, line)
        if first != line:
            yield RowError(file, line, f"contract_ref: {row.contract_ref} repeated (first at line {first})")


def contract_parts(
    lines: Iterable[str], file: str, size: int, window: DateWindow = DEFAULT_WINDOW
) -> Iterator[list[ContractRow]]:
    """The good rows of a surveyed file, `size` at a time."""
    part: list[ContractRow] = []
    for item in validated_rows(lines, file, CONTRACT_HEADER, "contracts", ContractRow, _check, window):
        if isinstance(item, RowError):
            continue
        part.append(item[1])
        if len(part) == size:
            yield part
            part = []
    if part:
        yield part


def parse_contract_csv(text: str, file: str, window: DateWindow = DEFAULT_WINDOW) -> ParseReport[ContractRow]:
    """Validate a contracts CSV row by row, whole (contract_rows, gathered)."""
    report: ParseReport[ContractRow] = ParseReport(file=file)
    for item in contract_rows(text, file, window):
        if isinstance(item, RowError):
            report.errors.append(item)
        else:
            report.rows.append(item)
    return report


def _check(row: ContractRow) -> str | None:
    if row.maturity_date < row.trade_date:
        return "maturity_date: before trade_date"
    if row.de_designated_on is not None and row.status is not ContractStatus.DE_DESIGNATED:
        return "de_designated_on: only a row with status de_designated takes one"
    return _instrument_problem(row)


def _instrument_problem(row: ContractRow) -> str | None:
    """Statuses and terms of the row's instrument: an fx_forward is on a pair, in its quote
    currency, per 1 unit of its base currency, deliverable or ndf."""
    problem = status_problem(row.instrument, row.status)
    if problem or row.instrument is not Instrument.FX_FORWARD:
        if problem is None and row.settlement_method is not None:
            return "settlement_method: only an fx_forward has one"
        return problem
    if row.settlement_method is None:
        return "settlement_method: an fx_forward is deliverable or ndf"
    return fx_terms_problem(row.underlying, row.unit, row.currency)


def fixing_source_problem(survey: ContractSurvey, file: str, configured: Iterable[str]) -> str | None:
    """Why the fixing sources a surveyed file names are not all `ecb` or a configured price
    source (one line naming each unknown one at its first line), or None."""
    known = {ECB_FIXING, *configured}
    unknown = sorted((line, name) for name, line in survey.fixing_sources.items() if name not in known)
    if not unknown:
        return None
    named = "; ".join(f"{file}:{line}: fixing_source: {name} unknown" for line, name in unknown)
    return f"{named} (known: {', '.join(sorted(known))})"


def changed_fields(stored: dict[str, object], incoming: ContractRow) -> list[str]:
    """Names of the fields whose values differ (Decimals compared by value)."""
    new = incoming.fields()
    return sorted(name for name, value in new.items() if stored.get(name) != value)
