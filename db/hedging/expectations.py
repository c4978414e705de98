"""Loading "no longer expected" records (all or nothing; each audited) and reading them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.canonical import canonical_form
from core.errors import InvalidInput
from core.hedging.dossier import HedgeType
from core.hedging.expectations import NoLongerExpectedRow
from db.audit import record_event
from db.hedging.dossiers import Loaded
from db.hedging.effectiveness import current_versions
from db.hedging.journal_models import NoLongerExpected
from db.hedging.models import HedgeDesignation, HedgeRelationship

EVENT = "hedge_cash_flows_no_longer_expected"


def _relationships(session: Session, refs: Sequence[str]) -> dict[str, tuple[int, str, date]]:
    """By designation ref: (relationship id, current hedge type, current designation date)."""
    current = current_versions()
    stmt = (
        select(HedgeRelationship.designation_ref, HedgeRelationship.id, HedgeDesignation.hedge_type)
        .join(HedgeDesignation, HedgeDesignation.relationship_id == HedgeRelationship.id)
        .add_columns(HedgeDesignation.designation_date)
        .join(
            current,
            (current.c.relationship_id == HedgeDesignation.relationship_id)
            & (current.c.version == HedgeDesignation.version),
        )
        .where(HedgeRelationship.designation_ref.in_(sorted(set(refs))))
    )
    return {ref: (rid, kind, day) for ref, rid, kind, day in session.execute(stmt)}


def _problems(session: Session, rows: Sequence[NoLongerExpectedRow]) -> tuple[list[str], dict[str, int]]:
    found = _relationships(session, [r.designation_ref for r in rows])
    stored = no_longer_expected(session, [rid for rid, _kind, _day in found.values()])
    problems, ids = [], {}
    for row in rows:
        ref = row.designation_ref
        if ref not in found:
            problems.append(f"{ref}: no such designation")
            continue
        rid, kind, designated = found[ref]
        if kind != HedgeType.CASH_FLOW.value:
            problems.append(f"{ref}: a {kind} hedge has no hedged cash flows to stop expecting (IFRS 9 6.5.12)")
        elif row.effective_date < designated:
            problems.append(f"{ref}: effective_date {row.effective_date} is before its designation date {designated}")
        elif rid in stored and stored[rid].payload_sha256 != canonical_form(row.payload())[2]:
            problems.append(
                f"{ref}: already recorded otherwise ({stored[rid].recorded_by}, {stored[rid].effective_date})"
            )
        ids[ref] = rid
    return problems, ids


def load_no_longer_expected(
    session: Session, rows: Sequence[NoLongerExpectedRow], *, now: datetime, source: str
) -> Loaded:
    """All or nothing: an unknown designation, a hedge other than a cash flow hedge, a date
    before designation or a record that differs from the stored one refuses the file."""
    problems, ids = _problems(session, rows)
    if problems:
        raise InvalidInput(f"{source}: {len(problems)} bad record(s); nothing loaded", problems)
    loaded = Loaded()
    stored = set(no_longer_expected(session, ids.values()))
    for row in rows:
        if ids[row.designation_ref] in stored:
            loaded.existing.append(row.designation_ref)
        else:
            _store(session, row, ids[row.designation_ref], now, source)
            loaded.created.append(row.designation_ref)
    session.flush()
    return loaded


def _store(session: Session, row: NoLongerExpectedRow, relationship_id: int, now: datetime, source: str) -> None:
    payload, _text, sha = canonical_form(row.payload())
    session.add(
        NoLongerExpected(
            relationship_id=relationship_id,
            effective_date=row.effective_date,
            recorded_by=row.recorded_by,
            reason=row.reason,
            payload=payload,
            payload_sha256=sha,
            created_at=now,
        )
    )
    details = {**row.payload(), "source": source}
    record_event(
        session,
        EVENT,
        entity_type="hedge_relationship",
        entity_id=relationship_id,
        now=now,
        actor=row.recorded_by,
        details=details,
    )


def no_longer_expected(session: Session, relationship_ids: Iterable[int]) -> dict[int, NoLongerExpected]:
    stmt = select(NoLongerExpected).where(NoLongerExpected.relationship_id.in_(sorted(set(relationship_ids))))
    return {n.relationship_id: n for n in session.scalars(stmt)}
