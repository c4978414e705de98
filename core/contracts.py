"""Hedge contract rows: the contracts CSV format, its validation and change rules."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict

from core.hedging.fx import SettlementMethod, fx_terms_problem
from core.hedging.lifecycle import status_problem
from core.identifiers import Ref, Symbol, Unit
from core.prices import CurrencyCode
from core.rows import DEFAULT_WINDOW, DateWindow, PositiveDecimal, SaneDate, parse_rows
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
#: Fields a reload may change (the change is applied and audited); any other is an error.
MUTABLE_FIELDS = frozenset({"status"})
#: Optional columns: settlement_method, which fx_forward rows need (deliverable or ndf) and
#: commodity rows leave empty; de_designated_on, the effective date of a change to
#: de_designated (empty: the day the file is loaded; docs/hedge-accounting.md).
OPTIONAL_COLUMNS = ("settlement_method", "de_designated_on")


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

    def fields(self) -> dict[str, object]:
        return self.model_dump(exclude={"de_designated_on"})


def parse_contract_csv(text: str, file: str, window: DateWindow = DEFAULT_WINDOW) -> ParseReport[ContractRow]:
    """Validate a contracts CSV row by row; a repeated contract_ref is an error."""

    def check(row: ContractRow) -> str | None:
        if row.maturity_date < row.trade_date:
            return "maturity_date: before trade_date"
        if row.de_designated_on is not None and row.status is not ContractStatus.DE_DESIGNATED:
            return "de_designated_on: only a row with status de_designated takes one"
        return _instrument_problem(row)

    report = parse_rows(text, file, CONTRACT_HEADER, "contracts", ContractRow, check, window)
    first_line: dict[str, int] = {}
    kept = []
    for line, row in report.rows:
        if row.contract_ref in first_line:
            report.errors.append(
                RowError(
                    file,
                    line,
                    f"contract_ref: {row.contract_ref} repeated (first at line {first_line[row.contract_ref]})",
                )
            )
            continue
        first_line[row.contract_ref] = line
        kept.append((line, row))
    report.rows = kept
    report.errors.sort(key=lambda e: e.line)
    return report


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


def changed_fields(stored: dict[str, object], incoming: ContractRow) -> list[str]:
    """Names of the fields whose values differ (Decimals compared by value)."""
    new = incoming.fields()
    return sorted(name for name, value in new.items() if stored.get(name) != value)
