"""What the accounting reports read: a period's journal lines (the GL import file) and the
entries the reserve's roll-forward is made of (core.hedging.reserve)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.hedging.accounts import AccountRole
from core.hedging.journal import JournalEntry as PostedEntry
from core.hedging.periods import Period
from core.hedging.reserve import ReserveRow, carried, roll_forward
from db.hedging.journal_models import JournalEntry
from db.hedging.models import HedgeRelationship
from db.models import MtmSnapshot

ZERO = Decimal(0)


def entries_of_period(session: Session, period: str) -> list[tuple[JournalEntry, str | None]]:
    """The entries posted in `period` with their relationship's designation ref (None: the
    settlement of a contract never designated)."""
    stmt = (
        select(JournalEntry, HedgeRelationship.designation_ref)
        .join(HedgeRelationship, HedgeRelationship.id == JournalEntry.relationship_id, isouter=True)
        .where(JournalEntry.period == period)
        .order_by(JournalEntry.posting_date, JournalEntry.id)
    )
    return [(e, ref) for e, ref in session.execute(stmt)]


def snapshot_keys(session: Session, entries: Iterable[JournalEntry]) -> dict[str, str]:
    """The idempotency key of every snapshot the entries' lines name, by snapshot id (text)."""
    ids = {
        int(s["ref"])
        for e in entries
        for line in e.payload["lines"]
        for s in line["sources"]
        if s["kind"] == "mtm_snapshot" and str(s["ref"]).isdigit()
    }
    if not ids:
        return {}
    stmt = select(MtmSnapshot.id, MtmSnapshot.idempotency_key).where(MtmSnapshot.id.in_(sorted(ids)))
    return {str(i): key for i, key in session.execute(stmt)}


def journal_rows(session: Session, period: str) -> list[dict[str, Any]]:
    """One row per journal line of the entries posted in `period`, in posting order."""
    found = entries_of_period(session, period)
    keys = snapshot_keys(session, [e for e, _ in found])
    rows = []
    for e, ref in found:
        for line in e.payload["lines"]:
            amount = Decimal(str(line["amount"]))
            functional = line.get("functional_amount")
            rows.append(
                {
                    "entry_key": e.idempotency_key,
                    "posting_date": e.posting_date,
                    "account": line["account"],
                    "role": line["role"],
                    "debit": amount if amount > 0 else ZERO,
                    "credit": -amount if amount < 0 else ZERO,
                    "currency": e.payload["currency"],
                    "functional_amount": None if functional is None else Decimal(str(functional)),
                    "functional_currency": e.payload.get("functional_currency"),
                    "relationship": ref,
                    "source_keys": [_source_key(s, keys) for s in line["sources"]],
                    "reverses": e.reverses_key,
                }
            )
    return rows


def _source_key(source: dict[str, Any], snapshots: dict[str, str]) -> str:
    """`MTM:hedge_contract:1:2026-11-30 sha256:<hash>`, `EFF:1:1:2026-11-30`, ..."""
    ref = snapshots.get(str(source["ref"]), str(source["ref"])) if source["kind"] == "mtm_snapshot" else source["ref"]
    return f"{ref} sha256:{source['sha256']}" if source.get("sha256") else str(ref)


def reserve_rows(
    session: Session, period: str
) -> tuple[list[ReserveRow], dict[AccountRole, ReserveRow], dict[int, str], dict[tuple[int, AccountRole], Decimal]]:
    """core.hedging.reserve.roll_forward over the entries posted up to `period`; the
    relationships' designation refs by id; the reserve each one's latest state carries."""
    stmt = (
        select(JournalEntry.payload, HedgeRelationship.id, HedgeRelationship.designation_ref)
        .join(HedgeRelationship, HedgeRelationship.id == JournalEntry.relationship_id)
        .where(JournalEntry.period <= period)
        .order_by(JournalEntry.id)
    )
    entries, refs = [], {}
    for payload, rid, ref in session.execute(stmt):
        entries.append(PostedEntry.from_payload(payload))
        refs[rid] = ref
    rows, totals = roll_forward(entries, Period.parse(period))
    return rows, totals, refs, carried(entries, Period.parse(period))
