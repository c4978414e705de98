"""Reads and writes of the effectiveness step, and of hedged-item valuation: which
designations are under test at D, their terms, the MTM series of both legs, the date
of each one's last test; results written through the write path, failures flagged."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

from sqlalchemy import Subquery, and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from core.hedging.dossier import leg_terms
from core.hedging.effectiveness import DesignationTerms, EffectivenessResult
from core.hedging.lifecycle import TESTED
from core.hedging.methods import Method, OffsetBasis, Outcome
from core.values import Contract
from db.audit import record_event
from db.contracts import to_contract
from db.hedging.dossiers import to_item
from db.hedging.models import EffectivenessResult as ResultRowModel
from db.hedging.models import HedgeDesignation, HedgedItem, HedgeRelationship
from db.models import HedgeContract
from db.writepath import WriteReport, result_row, write_results

FLAG_EVENT = "hedge_de_designation_flagged"


def current_versions() -> Subquery:
    """(relationship_id, version): the current, highest, version of each relationship."""
    return (
        select(HedgeDesignation.relationship_id, func.max(HedgeDesignation.version).label("version"))
        .group_by(HedgeDesignation.relationship_id)
        .subquery()
    )


def designations_under_test(
    session: Session, as_of: date, *, contract_ids: Iterable[int] | None = None, item_ids: Iterable[int] | None = None
) -> list[int]:
    """Ids of the current designation versions tested at `as_of`: designated on or before
    it, the item's exposure not yet past, the instrument designated or active; only those
    of these instruments or these items when they are given (a chunk's own legs). A
    relationship whose instrument was re-designated since (a later relationship of the same
    instrument) is no longer tested: the later one is."""
    current = current_versions()
    later = aliased(HedgeRelationship)
    stmt = (
        select(HedgeDesignation.id)
        .join(
            current,
            and_(
                current.c.relationship_id == HedgeDesignation.relationship_id,
                current.c.version == HedgeDesignation.version,
            ),
        )
        .join(HedgeRelationship, HedgeRelationship.id == HedgeDesignation.relationship_id)
        .join(HedgeContract, HedgeContract.id == HedgeRelationship.contract_id)
        .join(HedgedItem, HedgedItem.id == HedgeRelationship.hedged_item_id)
        .where(
            HedgeDesignation.designation_date <= as_of,
            HedgedItem.exposure_date >= as_of,
            HedgeContract.status.in_([s.value for s in TESTED]),
            ~exists().where(later.contract_id == HedgeRelationship.contract_id, later.id > HedgeRelationship.id),
        )
        .order_by(HedgeDesignation.id)
    )
    if contract_ids is not None:
        stmt = stmt.where(HedgeContract.id.in_(sorted(set(contract_ids))))
    if item_ids is not None:
        stmt = stmt.where(HedgedItem.id.in_(sorted(set(item_ids))))
    return list(session.scalars(stmt))


def legs_of(session: Session, version_ids: Sequence[int]) -> list[tuple[HedgeDesignation, HedgeContract, HedgedItem]]:
    stmt = (
        select(HedgeDesignation, HedgeContract, HedgedItem)
        .join(HedgeRelationship, HedgeRelationship.id == HedgeDesignation.relationship_id)
        .join(HedgeContract, HedgeContract.id == HedgeRelationship.contract_id)
        .join(HedgedItem, HedgedItem.id == HedgeRelationship.hedged_item_id)
        .where(HedgeDesignation.id.in_(version_ids))
        .order_by(HedgeDesignation.id)
    )
    return [(d, c, i) for d, c, i in session.execute(stmt)]


def hypothetical_derivatives(session: Session, version_ids: Sequence[int]) -> list[Contract]:
    """The hedged items of these designations as the derivatives they are valued as."""
    found: dict[int, Contract] = {}
    for d, _c, i in legs_of(session, version_ids):
        found[i.id] = to_item(i).hypothetical(d.hedged_item_rate, d.designation_date)
    return [found[k] for k in sorted(found)]


def designation_terms(session: Session, version_ids: Sequence[int]) -> list[DesignationTerms]:
    terms = []
    for d, c, i in legs_of(session, version_ids):
        instrument, item = leg_terms(to_contract(c), to_item(i))
        terms.append(
            DesignationTerms(
                designation_id=d.relationship_id,
                version=d.version,
                version_id=d.id,
                method=Method(d.method),
                designation_date=d.designation_date,
                hedge_ratio=d.hedge_ratio,
                offset_basis=OffsetBasis(d.offset_basis),
                params=d.params,
                instrument=instrument,
                item=item,
                instrument_id=c.id,
                item_id=i.id,
            )
        )
    return terms


def last_tests(session: Session, relationship_ids: Iterable[int], before: date) -> dict[int, date]:
    """The date of each relationship's latest test before `before` (any version)."""
    ids = sorted(set(relationship_ids))
    if not ids:
        return {}
    stmt = (
        select(ResultRowModel.relationship_id, func.max(ResultRowModel.as_of_date))
        .where(ResultRowModel.relationship_id.in_(ids), ResultRowModel.as_of_date < before)
        .group_by(ResultRowModel.relationship_id)
    )
    return {rid: day for rid, day in session.execute(stmt)}


def write_effectiveness(
    session: Session, results: Sequence[EffectivenessResult], *, batch_run_id: int | None, now: datetime
) -> WriteReport:
    """Append the results; a `fail` newly written flags its designation for de-designation
    (an audit event for a person to act on: nothing here de-designates)."""
    rows = []
    for r in results:
        row = result_row(r.key, r.payload, _columns(r))
        row.columns["details"] = row.payload["details"]  # the canonical form: JSON-able
        rows.append(row)
    report = write_results(session, ResultRowModel, rows, batch_run_id=batch_run_id, now=now)
    for result, outcome in zip(results, report.outcomes, strict=True):
        if outcome.value == "created" and result.outcome is Outcome.FAIL:
            record_event(
                session,
                FLAG_EVENT,
                entity_type="hedge_designation",
                entity_id=result.designation_id,
                now=now,
                batch_run_id=batch_run_id,
                details={
                    "idempotency_key": result.key,
                    "version": result.version,
                    "as_of": result.as_of,
                    "method": result.method,
                    "ratio": result.ratio,
                    "slope": result.slope,
                    "r_squared": result.r_squared,
                    "reason": result.details.get("reason"),
                    "action": "review for de-designation; the worker never de-designates",
                },
            )
    return report


def _columns(r: EffectivenessResult) -> dict[str, object]:
    return {
        "relationship_id": r.designation_id,
        "designation_id": r.version_id,
        "version": r.version,
        "as_of_date": r.as_of,
        "method": r.method.value,
        "outcome": r.outcome.value,
        "ratio": r.ratio,
        "slope": r.slope,
        "r_squared": r.r_squared,
        "p_value": r.p_value,
        "n_observations": r.n,
    }


def report_lines(session: Session, as_of: date) -> list[dict[str, object]]:
    """One line per designation tested at `as_of` (its results of that day), and one per
    designation under test without a result (`outcome` None), by designation ref."""
    stmt = (
        select(ResultRowModel, HedgeRelationship.designation_ref, HedgeContract.contract_ref, HedgedItem.item_ref)
        .join(HedgeRelationship, HedgeRelationship.id == ResultRowModel.relationship_id)
        .join(HedgeContract, HedgeContract.id == HedgeRelationship.contract_id)
        .join(HedgedItem, HedgedItem.id == HedgeRelationship.hedged_item_id)
        .where(ResultRowModel.as_of_date == as_of)
    )
    lines: list[dict[str, object]] = []
    tested: set[int] = set()
    for r, ref, contract_ref, item_ref in session.execute(stmt):
        tested.add(r.designation_id)
        lines.append(
            {
                "designation_ref": ref,
                "designation_id": r.relationship_id,
                "version": r.version,
                "contract_ref": contract_ref,
                "item_ref": item_ref,
                "as_of": as_of,
                "method": r.method,
                "outcome": r.outcome,
                "ratio": r.ratio,
                "slope": r.slope,
                "r_squared": r.r_squared,
                "p_value": r.p_value,
                "n": r.n_observations,
                "reason": r.details.get("reason"),
                "flagged": r.outcome == Outcome.FAIL.value,
                "key": r.idempotency_key,
            }
        )
    untested = [
        t for t in designation_terms(session, designations_under_test(session, as_of)) if t.version_id not in tested
    ]
    refs = {
        rid: ref
        for rid, ref in session.execute(
            select(HedgeRelationship.id, HedgeRelationship.designation_ref).where(
                HedgeRelationship.id.in_([t.designation_id for t in untested])
            )
        )
    }
    for t in untested:
        lines.append(
            {
                "designation_ref": refs[t.designation_id],
                "designation_id": t.designation_id,
                "version": t.version,
                "as_of": as_of,
                "method": t.method.value,
                "outcome": None,
                "reason": "not tested on this date",
            }
        )
    return sorted(lines, key=lambda line: (str(line["designation_ref"]), int(str(line["version"]))))
