"""Hedged items: exposures (a forecast purchase or sale, a foreign-currency receivable or
payable), and the hypothetical derivative each is valued as."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.hedging.documents import Ref, Text, validated_entries
from core.hedging.fx import fx_terms_problem, is_pair
from core.prices import CurrencyCode, Symbol
from core.rows import DEFAULT_WINDOW, DateWindow, PositiveDecimal, SaneDate
from core.values import Contract, ContractStatus, Instrument, Side

FORECAST_PROBABILITY_MIN = Decimal("0.5")  # seed 004: a forecast must be highly probable


class HedgedItemKind(StrEnum):
    RECEIVABLE = "receivable"
    PAYABLE = "payable"
    FORECAST_PURCHASE = "forecast_purchase"
    FORECAST_SALE = "forecast_sale"

    @property
    def side(self) -> Side:
        """The exposure as a position: a receivable or a sale to come gains when the
        underlying rises (long, like a buy); a payable or a purchase to come loses (short)."""
        return Side.BUY if self in (HedgedItemKind.RECEIVABLE, HedgedItemKind.FORECAST_SALE) else Side.SELL

    @property
    def forecast(self) -> bool:
        return self in (HedgedItemKind.FORECAST_PURCHASE, HedgedItemKind.FORECAST_SALE)


class HedgedItemRow(BaseModel):
    """One exposure of the hedged-items file. `amount` is in `unit` (the base currency of a
    pair, or tonnes of a commodity); values are in `currency` (the quote currency)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    item_ref: Ref
    kind: HedgedItemKind
    underlying: Symbol
    amount: PositiveDecimal
    unit: Annotated[str, Field(min_length=1, max_length=16)]
    currency: CurrencyCode
    exposure_date: SaneDate
    probability: Annotated[Decimal, Field(gt=0, le=1)] | None = None
    description: Text

    @model_validator(mode="after")
    def _consistent(self) -> HedgedItemRow:
        if self.kind.forecast and (self.probability is None or self.probability < FORECAST_PROBABILITY_MIN):
            raise ValueError(f"probability: a forecast needs a probability of at least {FORECAST_PROBABILITY_MIN}")
        if not self.kind.forecast and self.probability is not None:
            raise ValueError("probability: only a forecast has one")
        if is_pair(self.underlying):
            problem = fx_terms_problem(self.underlying, self.unit, self.currency)
            if problem:
                raise ValueError(problem)
        return self

    @property
    def payload(self) -> dict[str, Any]:
        return self.model_dump()


@dataclass(frozen=True, slots=True)
class HedgedItem:
    """A stored hedged item, as valuation and tests see it."""

    id: int
    item_ref: str
    kind: HedgedItemKind
    underlying: str
    amount: Decimal
    unit: str
    currency: str
    exposure_date: date

    def hypothetical(self, locked_rate: Decimal, designation_date: date) -> Contract:
        """The hypothetical derivative: a forward on the same underlying, for the item's
        amount and date, on the side of the exposure (the opposite of its hedge), at the
        rate locked at designation. Valued with the same formula as the instrument."""
        instrument = Instrument.FX_FORWARD if is_pair(self.underlying) else Instrument.COMMODITY_FORWARD
        return Contract(
            id=self.id,
            contract_ref=self.item_ref,
            instrument=instrument,
            underlying=self.underlying,
            side=self.kind.side,
            quantity=self.amount,
            unit=self.unit,
            entry_price=locked_rate,
            currency=self.currency,
            trade_date=designation_date,
            maturity_date=self.exposure_date,
            status=ContractStatus.ACTIVE,
        )


def parse_hedged_items(
    text: str, file: str, window: DateWindow = DEFAULT_WINDOW
) -> tuple[list[HedgedItemRow], list[str]]:
    """Every entry validated, its dates within `window`; (good rows, errors naming the
    entry). A repeated item_ref is an error."""
    return validated_entries(
        text,
        file,
        "hedged_items",
        HedgedItemRow,
        window,
        lambda row: row.item_ref,
        lambda row: f"item_ref {row.item_ref} repeated",
    )
