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

from pydantic import BaseModel, ConfigDict, model_validator

from core.hedging.documents import Person, Ref, validated_entries
from core.hedging.settlement import SettlementOrder, authorisation
from core.rows import DEFAULT_WINDOW, DateWindow, PositiveDecimal, SaneDate

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
    rows, errors = validated_entries(
        text,
        file,
        KEY,
        SettlementRow,
        window,
        lambda row: (row.contract_ref, row.settlement_date),
        lambda row: f"contract_ref {row.contract_ref} settled twice in the file",
    )
    return [row.order() for row in rows], errors
