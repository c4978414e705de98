"""What `hedgeops report mtm` reads: every snapshot of a date with the price row it used (its
provenance), the date's exceptions with their reasons, and each contract's snapshot of the
previous date that has snapshots, for the change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from db.models import HedgeContract, MtmException, MtmSnapshot, SettlementPrice


@dataclass(frozen=True, slots=True)
class MtmReport:
    as_of: date
    previous: date | None
    snapshots: list[dict[str, Any]]
    exceptions: list[dict[str, Any]]


def previous_date(session: Session, as_of: date) -> date | None:
    """The newest date before `as_of` that has snapshots."""
    return session.scalar(select(func.max(MtmSnapshot.as_of_date)).where(MtmSnapshot.as_of_date < as_of))


def mtm_report(session: Session, as_of: date) -> MtmReport:
    previous = previous_date(session, as_of)
    return MtmReport(as_of, previous, _snapshots(session, as_of, previous), _exceptions(session, as_of))


def _snapshots(session: Session, as_of: date, previous: date | None) -> list[dict[str, Any]]:
    before = aliased(MtmSnapshot)
    stmt = (
        select(MtmSnapshot, SettlementPrice, HedgeContract, before.mtm_value)
        .join(SettlementPrice, SettlementPrice.id == MtmSnapshot.price_id)
        .outerjoin(
            HedgeContract,
            (HedgeContract.id == MtmSnapshot.object_id) & (MtmSnapshot.object_type == "hedge_contract"),
        )
        .outerjoin(
            before,
            (before.object_type == MtmSnapshot.object_type)
            & (before.object_id == MtmSnapshot.object_id)
            & (before.as_of_date == previous),
        )
        .where(MtmSnapshot.as_of_date == as_of)
        .order_by(MtmSnapshot.object_type, MtmSnapshot.object_id)
    )
    return [_snapshot_line(s, p, c, prior) for s, p, c, prior in session.execute(stmt)]


def _snapshot_line(
    s: MtmSnapshot, p: SettlementPrice, c: HedgeContract | None, prior: Decimal | None
) -> dict[str, Any]:
    return {
        "object": f"{s.object_type}:{s.object_id}",
        "contract_ref": c.contract_ref if c is not None else None,
        "underlying": c.underlying if c is not None else p.symbol,
        "side": c.side if c is not None else None,
        "quantity_mt": s.quantity_mt,
        "entry_price": s.entry_price,
        "price_d1": s.price_d1,
        "price_date": s.price_date,
        "price_id": p.id,
        "source": p.source,
        "confidence": p.confidence,
        "provenance": p.file_name or p.request_id,
        "file_sha256": p.file_sha256,
        "mtm": s.mtm_value,
        "currency": s.currency,
        "previous_mtm": prior,
        "change": None if prior is None else s.mtm_value - prior,
        "payload_sha256": s.payload_sha256,
    }


def _exceptions(session: Session, as_of: date) -> list[dict[str, Any]]:
    stmt = (
        select(MtmException, HedgeContract.contract_ref, HedgeContract.underlying)
        .outerjoin(
            HedgeContract,
            (HedgeContract.id == MtmException.object_id) & (MtmException.object_type == "hedge_contract"),
        )
        .where(MtmException.as_of_date == as_of)
        .order_by(MtmException.object_type, MtmException.object_id)
    )
    return [
        {
            "object": f"{e.object_type}:{e.object_id}",
            "contract_ref": ref,
            "underlying": underlying,
            "reason": e.reason,
            "details": e.details,
        }
        for e, ref, underlying in session.execute(stmt)
    ]
