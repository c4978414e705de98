"""The results of valuing a contract at an as-of date: a snapshot of its MTM, or an
exception saying why it could not be valued; and a run's valuation, both kinds together.
Commodity MTM (core.mtm) and FX MTM (core.hedging.fx) both make these."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from core.canonical import payload_sha256
from core.values import ExceptionReason, ObjectType


@dataclass(frozen=True, slots=True)
class MtmSnapshot:
    """The business values of one snapshot; `payload` is what its hash covers."""

    key: str
    contract_id: int
    as_of: date
    price_date: date
    price_id: int
    mtm_value: Decimal
    price_d1: Decimal
    entry_price: Decimal
    quantity: Decimal
    currency: str
    #: hedged_item for the hypothetical derivative of a hedged item (`contract_id` is then its id).
    object_type: ObjectType = ObjectType.HEDGE_CONTRACT
    #: More business values of the payload (FX forwards: rate source, discounting).
    extra: dict[str, Any] | None = field(default=None, hash=False)

    @property
    def payload(self) -> dict[str, Any]:
        return {
            "object_type": self.object_type.value,
            "object_id": self.contract_id,
            "as_of_date": self.as_of,
            "price_date": self.price_date,
            "price_id": self.price_id,
            "mtm_value": self.mtm_value,
            "price_d1": self.price_d1,
            "entry_price": self.entry_price,
            "quantity_mt": self.quantity,
            "currency": self.currency,
            **(self.extra or {}),
        }

    @property
    def sha256(self) -> str:
        return payload_sha256(self.payload)


@dataclass(frozen=True, slots=True)
class MtmException:
    """A contract that could not be valued, and why: coverage stays 100%."""

    key: str
    contract_id: int
    as_of: date
    reason: ExceptionReason
    details: dict[str, Any]
    object_type: ObjectType = ObjectType.HEDGE_CONTRACT

    @property
    def payload(self) -> dict[str, Any]:
        return {
            "object_type": self.object_type.value,
            "object_id": self.contract_id,
            "as_of_date": self.as_of,
            "reason": self.reason.value,
            "details": self.details,
        }

    @property
    def sha256(self) -> str:
        return payload_sha256(self.payload)


@dataclass(slots=True)
class Valuation:
    """What valuing contracts gave: snapshots, exceptions, and how many were skipped (their
    status no longer revalues)."""

    snapshots: list[MtmSnapshot]
    exceptions: list[MtmException]
    skipped: int = 0
