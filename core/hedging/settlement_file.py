"""The settlements file (`hedgeops load settlements FILE`): a person settles contracts.

    {"settlements": [{"contract_ref": "FXF-1", "settlement_date": "2026-12-31",
                      "rate": "1.105", "settled_by": "dana", "approver_1": "erin",
                      "approver_2": "frank"}]}

`rate` is a deliverable forward's actual settlement rate, or for an NDF and a commodity
forward the fixing confirmed (it must equal the proposal's). Two distinct approvers, neither
the settler (seed 004 §4.1) are checked here, per entry; what needs the stored proposal is
checked by the load (core.hedging.settlement.order_problems)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from core.hedging.documents import Person, Ref, control_problem, describe_entry, json_entries
from core.hedging.settlement import SettlementOrder, authorisation
from core.rows import DEFAULT_WINDOW, DateWindow, PositiveDecimal, SaneDate, window_context

KEY = "settlements"


class SettlementRow(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    contract_ref: Ref
    settlement_date: SaneDate
    rate: PositiveDecimal
    settled_by: Person
    approver_1: Person
    approver_2: Person

    @model_validator(mode="after")
    def _authorised(self) -> SettlementRow:
        if problems := authorisation(self.order()):
            raise ValueError("; ".join(problems))
        return self

    def order(self) -> SettlementOrder:
        return SettlementOrder(
            self.contract_ref,
            self.settlement_date,
            Decimal(self.rate),
            self.settled_by,
            self.approver_1,
            self.approver_2,
        )


def parse_settlements(
    text: str, file: str, window: DateWindow = DEFAULT_WINDOW
) -> tuple[list[SettlementOrder], list[str]]:
    """(good orders, one error per bad entry naming it); a contract named twice is an error."""
    orders: list[SettlementOrder] = []
    errors: list[str] = []
    seen: set[tuple[str, object]] = set()
    for index, entry in enumerate(json_entries(text, file, KEY)):
        where = f"{file}: {KEY}[{index}]"
        if (problem := control_problem(entry)) is not None:
            errors.append(f"{where}: {problem}")
            continue
        try:
            row = SettlementRow.model_validate(entry, context=window_context(window))
        except ValidationError as exc:
            errors.append(f"{where}: {describe_entry(exc)}")
            continue
        if (row.contract_ref, row.settlement_date) in seen:
            errors.append(f"{where}: contract_ref {row.contract_ref} settled twice in the file")
            continue
        seen.add((row.contract_ref, row.settlement_date))
        orders.append(row.order())
    return orders, errors
