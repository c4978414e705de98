"""The results of valuing a contract at an as-of date: a snapshot of its MTM, or an
exception saying why it could not be valued; and a run's valuation, both kinds together.
Commodity MTM (core.mtm) and FX MTM (core.hedging.fx) both make these."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from core.canonical import payload_sha256
from core.values import ExceptionReason, ObjectType

#: The idempotency key of a snapshot: core.keys.mtm_snapshot_key fills it in, the SQL
#: valuation (db.mtm_in_database) and the benchmark's SQL reference spell it in SQL.
SNAPSHOT_KEY = "MTM:{object_type}:{object_id}:{as_of_date}"

#: The business values of a snapshot, each with its kind: the fields of its payload, in
#: this order, and the columns of mtm_snapshots of the same names. Core makes the payload
#: from them; the write path's columns, the SQL valuation's select list and canonical JSON,
#: and the benchmark's SQL reference are built from this one list.
SNAPSHOT_FIELDS: Mapping[str, type] = MappingProxyType(
    {
        "object_type": str,
        "object_id": int,
        "as_of_date": date,
        "price_date": date,
        "price_id": int,
        "mtm_value": Decimal,
        "price_d1": Decimal,
        "entry_price": Decimal,
        "quantity_mt": Decimal,
        "currency": str,
    }
)


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
    def fields(self) -> dict[str, Any]:
        """The business values by SNAPSHOT_FIELDS: the columns of its row."""
        values = (
            self.object_type.value,
            self.contract_id,
            self.as_of,
            self.price_date,
            self.price_id,
            self.mtm_value,
            self.price_d1,
            self.entry_price,
            self.quantity,
            self.currency,
        )
        return dict(zip(SNAPSHOT_FIELDS, values, strict=True))

    @property
    def payload(self) -> dict[str, Any]:
        return {**self.fields, **(self.extra or {})} if self.extra else self.fields

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
