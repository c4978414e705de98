"""Domain values: enums and immutable records shared by every layer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Generic, TypeVar

T = TypeVar("T")


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell: the sign of the MTM formula."""
        return 1 if self is Side.BUY else -1


class Instrument(StrEnum):
    COMMODITY_FORWARD = "commodity_forward"
    FX_FORWARD = "fx_forward"


class ContractStatus(StrEnum):
    """Commodity forwards are active, cancelled or settled; FX forwards go through the
    lifecycle of seed 004 (draft, designated, active, de_designated, settled, rejected,
    cancelled: see core.hedging.lifecycle)."""

    ACTIVE = "active"
    CANCELLED = "cancelled"
    SETTLED = "settled"
    DRAFT = "draft"
    DESIGNATED = "designated"
    DE_DESIGNATED = "de_designated"
    REJECTED = "rejected"

    @property
    def revalues(self) -> bool:
        """Valued by the nightly MTM (seed 004: designated, active and de-designated contracts)."""
        return self in (ContractStatus.ACTIVE, ContractStatus.DESIGNATED, ContractStatus.DE_DESIGNATED)


class PriceType(StrEnum):
    CASH_SETTLEMENT = "cash_settlement"
    OFFICIAL = "official"
    REFERENCE = "reference"
    FORWARD = "forward"


class Confidence(StrEnum):
    """How much a price can be trusted (seed 002): official settlement is FIRM."""

    FIRM = "FIRM"
    INDICATIVE = "INDICATIVE"
    REFERENCE = "REFERENCE"

    @property
    def rank(self) -> int:
        """Lower is better; used to choose between prices of several sources."""
        return {"FIRM": 0, "INDICATIVE": 1, "REFERENCE": 2}[self.value]


CONFIDENCE_BY_PRICE_TYPE: dict[PriceType, Confidence] = {
    PriceType.CASH_SETTLEMENT: Confidence.FIRM,
    PriceType.OFFICIAL: Confidence.FIRM,
    PriceType.FORWARD: Confidence.INDICATIVE,
    PriceType.REFERENCE: Confidence.REFERENCE,
}


class D1Policy(StrEnum):
    """How the price date is found for an as-of date."""

    BUSINESS = "business"
    CALENDAR = "calendar"


class ObjectType(StrEnum):
    HEDGE_CONTRACT = "hedge_contract"
    HEDGED_ITEM = "hedged_item"


class ExceptionReason(StrEnum):
    PRICE_UNAVAILABLE = "price_unavailable"
    CURRENCY_MISMATCH = "currency_mismatch"
    UNIT_MISMATCH = "unit_mismatch"
    DISCOUNT_RATE_UNAVAILABLE = "discount_rate_unavailable"
    RATE_UNAVAILABLE = "rate_unavailable"  # an FX forward by parity lacks a currency's rate
    BASIS_MISMATCH = "basis_mismatch"  # the two legs of a designation on different bases
    VALUE_OUT_OF_RANGE = "value_out_of_range"  # a value its column cannot hold (|mtm| >= 10^22)
    PRICE_UNVERIFIED = "price_unverified"  # its D-1 price failed verification and awaits a decision
    NOT_VALUED = "not_valued"  # planned by its run, yet neither a snapshot nor an exception at its end


class Job(StrEnum):
    NIGHTLY = "nightly"
    PRICES = "prices"
    MTM = "mtm"
    EFFECTIVENESS = "effectiveness"
    POSTINGS = "postings"


class Trigger(StrEnum):
    BEAT = "beat"
    MANUAL = "manual"
    BACKFILL = "backfill"


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    COMPLETED_WITH_CONFLICTS = "completed_with_conflicts"
    COMPLETED_WITH_EXCEPTIONS = "completed_with_exceptions"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self is not RunStatus.RUNNING


class WriteOutcome(StrEnum):
    CREATED = "created"
    EXISTING = "existing"
    CONFLICT = "conflict"


@dataclass(frozen=True, slots=True)
class Contract:
    """A hedge contract as the valuation sees it."""

    id: int
    contract_ref: str
    instrument: Instrument
    underlying: str
    side: Side
    quantity: Decimal
    unit: str
    entry_price: Decimal
    currency: str
    trade_date: date
    maturity_date: date
    status: ContractStatus
    settlement_method: str | None = None  # fx_forward: deliverable or ndf


@dataclass(frozen=True, slots=True)
class Price:
    """A stored settlement price, with the id of its row for provenance."""

    id: int
    symbol: str
    price_date: date
    price: Decimal
    currency: str
    unit: str
    source: str
    confidence: Confidence
    #: Flagged by the pricing variance control with blocking on, and not yet accepted or
    #: replaced (core.price_checks): valuation gives `price_unverified`, not a snapshot.
    unverified: bool = False


@dataclass(slots=True)
class Counts:
    """What a run did: every result is exactly one of created, existing, conflict."""

    processed: int = 0
    created: int = 0
    existing: int = 0
    conflicts: int = 0
    exceptions: int = 0

    def add(self, other: Counts) -> None:
        self.processed += other.processed
        self.created += other.created
        self.existing += other.existing
        self.conflicts += other.conflicts
        self.exceptions += other.exceptions

    def record(self, outcome: WriteOutcome) -> None:
        if outcome is WriteOutcome.CREATED:
            self.created += 1
        elif outcome is WriteOutcome.EXISTING:
            self.existing += 1
        else:
            self.conflicts += 1

    def as_dict(self) -> dict[str, int]:
        return {
            "processed": self.processed,
            "created": self.created,
            "existing": self.existing,
            "conflicts": self.conflicts,
            "exceptions": self.exceptions,
        }


@dataclass(frozen=True, slots=True)
class RowError:
    """One rejected input row: where it was and why."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass(slots=True)
class ParseReport(Generic[T]):
    """Rows that passed validation and rows that did not, from one input file."""

    file: str
    rows: list[tuple[int, T]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
