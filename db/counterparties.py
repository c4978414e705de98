"""Counterparties: idempotent loading by counterparty_id, the reads the exposure needs, and
the exposures written through the write path."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.counterparties import FIXED_FIELDS, CounterpartyRow, changed_fields
from core.errors import InvalidInput
from core.exposure import Counterparty as CounterpartyValue
from core.exposure import CounterpartyExposure as ExposureValue
from core.exposure import ValuedContract
from core.keys import exposure_key
from core.values import ObjectType
from db.audit import record_event
from db.models import Counterparty, CounterpartyExposure, HedgeContract, MtmSnapshot
from db.writepath import WriteReport, result_row, write_results

FIELDS = tuple(CounterpartyRow.model_fields)
CREATED, CHANGED = "counterparty_created", "counterparty_changed"


@dataclass(slots=True)
class CounterpartyLoad:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)


def load_counterparties(
    session: Session, rows: Sequence[CounterpartyRow], *, now: datetime, source: str
) -> CounterpartyLoad:
    """Insert new counterparties, apply and audit changes (before and after), refuse a
    changed LEI, an LEI or a netting set another stored counterparty holds: all or nothing
    (InvalidInput names every refused row; the caller's unit of work rolls back)."""
    stored = {c.counterparty_id: c for c in session.scalars(select(Counterparty))}
    leis = {c.lei: c.counterparty_id for c in stored.values()}
    sets = {c.netting_set: c.counterparty_id for c in stored.values() if c.netting_set is not None}
    load, refused = CounterpartyLoad(), []
    for row in rows:
        problem = _holder_problem(row, leis, sets) or _load_row(
            session, load, stored.get(row.counterparty_id), row, now, source
        )
        if problem is not None:
            refused.append(f"{row.counterparty_id}: {problem}")
    if refused:
        raise InvalidInput(f"{source}: {len(refused)} counterparty row(s) refused; nothing loaded", refused)
    return load


def _holder_problem(row: CounterpartyRow, leis: dict[str, str], sets: dict[str, str]) -> str | None:
    holder = leis.get(row.lei)
    if holder is not None and holder != row.counterparty_id:
        return f"lei {row.lei} is already {holder}'s"
    holder = sets.get(row.netting_set) if row.netting_set is not None else None
    if holder is not None and holder != row.counterparty_id:
        return f"netting_set {row.netting_set} is already {holder}'s"
    return None


def _load_row(
    session: Session,
    load: CounterpartyLoad,
    current: Counterparty | None,
    row: CounterpartyRow,
    now: datetime,
    source: str,
) -> str | None:
    if current is None:
        created = Counterparty(**row.model_dump(), created_at=now, updated_at=now)
        session.add(created)
        session.flush()
        details = {"source": source, **row.model_dump()}
        record_event(
            session, CREATED, entity_type="counterparty", entity_id=row.counterparty_id, now=now, details=details
        )
        load.created.append(row.counterparty_id)
        return None
    before = {name: getattr(current, name) for name in FIELDS}
    diff = changed_fields(before, row)
    if not diff:
        load.existing.append(row.counterparty_id)
        return None
    if fixed := [name for name in diff if name in FIXED_FIELDS]:
        return f"{', '.join(fixed)} changed ({current.lei} stored): another entity is another counterparty"
    after = row.model_dump()
    for name in diff:
        setattr(current, name, after[name])
    current.updated_at = now
    details = {
        "source": source,
        "before": {n: before[n] for n in diff},
        "after": {n: after[n] for n in diff},
    }
    record_event(session, CHANGED, entity_type="counterparty", entity_id=row.counterparty_id, now=now, details=details)
    load.changed.append(row.counterparty_id)
    return None


def counterparty_ids(session: Session, refs: Sequence[str]) -> dict[str, int]:
    """The stored ids of these counterparty_ids (unknown ones are absent)."""
    if not refs:
        return {}
    stmt = select(Counterparty.counterparty_id, Counterparty.id).where(Counterparty.counterparty_id.in_(set(refs)))
    return {ref: cp_id for ref, cp_id in session.execute(stmt)}


def counterparty_values(session: Session) -> list[CounterpartyValue]:
    stmt = select(Counterparty).order_by(Counterparty.id)
    return [
        CounterpartyValue(c.id, c.counterparty_id, c.netting_set, c.credit_limit, c.limit_currency)
        for c in session.scalars(stmt)
    ]


def _snapshots_of(as_of: date) -> Any:
    return (
        select(HedgeContract.counterparty_id, MtmSnapshot.mtm_value, MtmSnapshot.currency)
        .join(HedgeContract, HedgeContract.id == MtmSnapshot.object_id)
        .where(
            MtmSnapshot.object_type == ObjectType.HEDGE_CONTRACT.value,
            MtmSnapshot.as_of_date == as_of,
            HedgeContract.counterparty_id.is_not(None),
        )
    )


def snapshot_currencies(session: Session, as_of: date) -> set[str]:
    """The currencies of the date's snapshots of contracts with a counterparty."""
    sub = _snapshots_of(as_of).subquery()
    return set(session.scalars(select(sub.c.currency).distinct()))


def valued_contracts(session: Session, as_of: date) -> Iterator[ValuedContract]:
    """The MTM snapshots of `as_of` of contracts with a counterparty, streamed."""
    result = session.execute(_snapshots_of(as_of).execution_options(yield_per=5000))
    for cp_id, mtm, currency in result:
        yield ValuedContract(cp_id, mtm, currency)


def write_exposures(
    session: Session, found: Sequence[ExposureValue], as_of: date, *, batch_run_id: int | None, now: datetime
) -> WriteReport:
    rows = [
        result_row(
            exposure_key(e.counterparty.counterparty_id, as_of),
            {"as_of_date": as_of, **e.payload()},
            {
                "counterparty_id": e.counterparty.id,
                "as_of_date": as_of,
                "netting_set": e.counterparty.netting_set,
                "contracts": e.contracts,
                "net_mtm": e.net,
                "exposure": e.exposure,
                "credit_limit": e.counterparty.credit_limit,
                "limit_currency": e.counterparty.limit_currency,
                "utilisation": e.utilisation,
                "headroom": e.headroom,
                "breached": e.breached,
            },
        )
        for e in found
    ]
    return write_results(session, CounterpartyExposure, rows, batch_run_id=batch_run_id, now=now)


def exposures_of(session: Session, as_of: date) -> list[tuple[CounterpartyExposure, Counterparty]]:
    """The stored exposures of `as_of`, by counterparty_id."""
    stmt = (
        select(CounterpartyExposure, Counterparty)
        .join(Counterparty, Counterparty.id == CounterpartyExposure.counterparty_id)
        .where(CounterpartyExposure.as_of_date == as_of)
        .order_by(Counterparty.counterparty_id)
    )
    return [(e, c) for e, c in session.execute(stmt)]
