"""Job 2: MTM snapshots of active contracts, fanned out in chunks; the last chunk to
count itself into the ledger ends the run (fan-in through the ledger, not a chord)."""

from __future__ import annotations

from datetime import date, datetime
from functools import partial
from typing import Any

import structlog
from sqlalchemy.orm import Session

from core.calendars import d1_dates
from core.hedging.functional import with_functional
from core.hedging.fx import FxMarket, with_forward_symbols
from core.hedging.valuation_plan import FxValuationPlan
from core.keys import mtm_snapshot_key
from core.ledger import chunks
from core.mtm import value_contracts
from core.mtm_results import Valuation
from core.plans import (
    CoveragePlan,
    IdRuns,
    IdRunSet,
    KeyRange,
    PlannedSet,
    as_planned,
    id_runs,
    not_valued,
    planned_sets,
    run_count,
)
from core.run_details import MtmPlan
from core.values import Contract, Counts, ExceptionReason, Job, ObjectType
from db import ledger
from db.contracts import active_chunk_members, contracts_by_ids, contracts_in_range, planned_contracts
from db.hedging.effectiveness import designations_under_test, hypothetical_derivatives
from db.hedging.legs import partners_of
from db.models import BatchRun
from db.mtm_in_database import commodity_underlyings, value_commodities_in_range
from db.prices import prices_on
from db.uow import SqlAlchemyUnitOfWork
from db.valuations import covered_ids, hedged_item_ids, write_valuation
from tasks import coverage, fanin, fanout, names, runs
from tasks.base import job_task
from tasks.counterparties import exposure_after_mtm
from tasks.coverage import JobCoverage
from tasks.hedging.ports import HedgingPorts, hedging_ports
from tasks.payloads import ChunkRequest, RangeChunkRequest
from tasks.ports import Ports, ports

log = structlog.get_logger(__name__)


@job_task(names.COMPUTE_MTM_SNAPSHOTS, queue=names.QueueName.VALUATION)
def compute_mtm_snapshots(
    self: Any, as_of: str | None = None, trigger: str = "manual", parent_run_id: int | None = None
) -> dict[str, Any]:
    p = ports()
    plan = partial(plan_mtm, p, hedging_ports())
    return runs.run_job(p, Job.MTM, self.request.id, plan, as_of=as_of, trigger=trigger, parent_run_id=parent_run_id)


def plan_mtm(p: Ports, hedging: HedgingPorts, run_id: int, send: fanout.Send = fanout.send_group) -> dict[str, Any]:
    """Split the active contracts into key ranges, record the plan (each chunk's members:
    what it must value), send the chunks after commit; again for a stale run (the chunks the
    ledger lacks)."""
    plan = partial(_mtm_plan, p, hedging)
    return fanout.fan_out(p, run_id, plan, send=send, event="mtm_planned")


def resend_mtm(run_id: int) -> dict[str, Any]:
    """The stale-run sweep's entry into MTM (tasks.resend): the run planned again."""
    return plan_mtm(ports(), hedging_ports(), run_id)


MTM = fanout.ChunkedJob(Job.MTM.value, resend=resend_mtm)


def _mtm_plan(p: Ports, hedging: HedgingPorts, s: Session, run: BatchRun) -> fanout.Plan:
    """Key ranges of the contracts, then the hedged items under test (their hypothetical
    derivatives) in chunks numbered after; the plan fixes the policy, calendars and FX
    valuation every chunk values with."""
    parts = active_chunk_members(s, p.chunk_size)
    item_parts = chunks(designations_under_test(s, run.as_of_date), p.chunk_size)
    contracts, items = ObjectType.HEDGE_CONTRACT.value, ObjectType.HEDGED_ITEM.value
    planned = [
        *(fanout.Chunk(names.COMPUTE_MTM_CHUNK, ids.as_message(), members={contracts: runs}) for ids, runs in parts),
        *(
            fanout.Chunk(
                names.COMPUTE_HEDGED_ITEM_CHUNK,
                {"designation_ids": ids},
                members={items: id_runs(hedged_item_ids(s, ids))},
            )
            for ids in item_parts
        ),
    ]
    sets = planned_sets(c.members for c in planned if c.members is not None)
    return fanout.Plan(
        planned,
        details={
            **MtmPlan(
                d1_policy=p.d1_policy, symbol_calendars=dict(p.symbol_calendars), chunk_size=p.chunk_size
            ).as_details(),
            **FxValuationPlan.of_policy(hedging.policy).as_details(),
            **CoveragePlan(planned={kind: PlannedSet.of(runs) for kind, runs in sets.items()}).as_details(),
        },
        log={"chunks": len(parts), "d1_policy": p.d1_policy.value, "contracts": run_count(sets.get(contracts, []))},
    )


@job_task(names.COMPUTE_MTM_CHUNK, queue=names.QueueName.VALUATION, ignore_result=True)
def compute_mtm_chunk(
    self: Any,
    run_id: int,
    chunk_no: int,
    first_id: int | None = None,
    last_id: int | None = None,
    contract_ids: list[int] | None = None,
) -> dict[str, Any]:
    """The active contracts of one key range; a message of an older plan names its ids instead."""
    p = ports()
    with runs.failing_run(p, run_id):
        if contract_ids is not None:
            return value_chunk(p, ChunkRequest(run_id=run_id, chunk_no=chunk_no, contract_ids=contract_ids))
        request = RangeChunkRequest(run_id=run_id, chunk_no=chunk_no, first_id=first_id, last_id=last_id)
        return value_range(p, request)


def value_range(p: Ports, request: RangeChunkRequest) -> dict[str, Any]:
    """Value the contracts its plan fixed for this chunk (its members), whatever their status
    now; a chunk planned before members were kept: the active contracts of its key range,
    read when it runs."""
    ids = KeyRange(request.first_id, request.last_id)

    def work(uow: SqlAlchemyUnitOfWork, run: BatchRun) -> fanin.ChunkDone:
        s = uow.session
        planned = ledger.planned_chunk(s, run.id, request.chunk_no)
        members = None if planned is None or planned.members is None else planned.members[_CONTRACTS]
        bounds = ids if not members else KeyRange(members[0][0], members[-1][1])
        if _in_database(p.mtm_in_database, s, run.details):
            return _range_in_database(p, s, run, bounds, members)
        contracts = contracts_in_range(s, ids) if members is None else as_planned(planned_contracts(s, members))
        return _written(p, s, run, contracts, ObjectType.HEDGE_CONTRACT, _range_details(ids, len(contracts)))

    return fanin.chunk_step(p, request.run_id, request.chunk_no, work, event="mtm_chunk_written", close=close_mtm)


_CONTRACTS = ObjectType.HEDGE_CONTRACT.value


def _mtm_covered(session: Session, run: BatchRun, kind: str, runs: IdRuns) -> IdRunSet:
    return covered_ids(session, run.as_of_date, ObjectType(kind), runs[0][0], runs[-1][1])


def _mtm_write(session: Session, run: BatchRun, kind: str, ids: list[int], now: datetime) -> Counts:
    excs = not_valued(ObjectType(kind), ids, run.as_of_date)
    return write_valuation(session, Valuation([], excs), batch_run_id=run.id, now=now, correlation_id=run.task_id)


MTM_COVERAGE = JobCoverage(
    Job.MTM.value,
    ExceptionReason.NOT_VALUED.value,
    _mtm_covered,
    lambda kind, i, run: mtm_snapshot_key(ObjectType(kind), i, run.as_of_date),
    _mtm_write,
)


def close_mtm(p: Ports, uow: SqlAlchemyUnitOfWork, run: BatchRun) -> Counts:
    """At the run's end: every planned contract and hedged item without a snapshot or an
    exception of the date is an exception `not_valued` (tasks.coverage); then a standalone
    run computes the date's counterparty exposures (docs/counterparties.md)."""
    counts = coverage.close_gaps(p, uow.session, run, MTM_COVERAGE)
    counts.add(exposure_after_mtm(p, uow, run))
    return counts


def _range_details(ids: KeyRange, contracts: int) -> dict[str, Any]:
    return {"object_type": ObjectType.HEDGE_CONTRACT.value, **ids.as_message(), "contracts": contracts}


def _in_database(enabled: bool, s: Session, plan: dict[str, Any]) -> bool:
    """PostgreSQL values a range's commodity forwards itself (HEDGEOPS_MTM_IN_DATABASE),
    unless the plan converts MTM into a functional currency (payload fields the statement
    does not write)."""
    return (
        enabled
        and s.get_bind().dialect.name == "postgresql"
        and FxValuationPlan.from_details(plan).functional_currency is None
    )


def _range_in_database(p: Ports, s: Session, run: BatchRun, ids: KeyRange, members: IdRuns | None) -> fanin.ChunkDone:
    """The commodity forwards the statement reproduces exactly are valued in the database
    with the D-1 prices core chooses; the others of the range (no price, a mismatch, FX
    forwards...) by core, in the same unit of work, written at the same time."""
    now, plan = p.clock(), MtmPlan.from_details(run.details)
    dates = d1_dates(commodity_underlyings(s, ids), run.as_of_date, plan.d1_policy, plan.symbol_calendars)
    done = value_commodities_in_range(
        s,
        ids,
        run.as_of_date,
        list(prices_on(s, dates).values()),
        batch_run_id=run.id,
        now=now,
        correlation_id=run.task_id,
        members=members,
    )
    counts = Counts()
    counts.add(done.counts)
    if done.rest:
        rest = as_planned(contracts_by_ids(s, done.rest))
        counts.add(_written(p, s, run, rest, ObjectType.HEDGE_CONTRACT, {}, now).counts)
    return fanin.ChunkDone(
        counts,
        audit="mtm_chunk_written",
        audit_details=_range_details(ids, counts.processed),
        summary={"in_database": done.counts.processed},
    )


@job_task(names.COMPUTE_HEDGED_ITEM_CHUNK, queue=names.QueueName.VALUATION, ignore_result=True)
def compute_hedged_item_chunk(self: Any, run_id: int, chunk_no: int, designation_ids: list[int]) -> dict[str, Any]:
    """The hedged items of these designations, valued as their hypothetical derivatives."""
    request, p = ChunkRequest(run_id=run_id, chunk_no=chunk_no, contract_ids=designation_ids), ports()
    with runs.failing_run(p, run_id):
        return value_chunk(p, request, ObjectType.HEDGED_ITEM)


def value_chunk(p: Ports, request: ChunkRequest, oid: ObjectType = ObjectType.HEDGE_CONTRACT) -> dict[str, Any]:
    def work(uow: SqlAlchemyUnitOfWork, run: BatchRun) -> fanin.ChunkDone:
        s = uow.session
        contracts = (
            contracts_by_ids(s, request.contract_ids)
            if oid is ObjectType.HEDGE_CONTRACT
            else hypothetical_derivatives(s, request.contract_ids)
        )
        # hedged items: the contract ids are the ids of their designations
        return _written(p, s, run, contracts, oid, {"object_type": oid.value, "contract_ids": request.contract_ids})

    return fanin.chunk_step(p, request.run_id, request.chunk_no, work, event="mtm_chunk_written", close=close_mtm)


def _written(
    p: Ports,
    s: Session,
    run: BatchRun,
    contracts: list[Contract],
    oid: ObjectType,
    audit_details: dict[str, Any],
    now: datetime | None = None,
) -> fanin.ChunkDone:
    valuation = _value(s, run.as_of_date, run.details, contracts, oid)
    counts = write_valuation(s, valuation, batch_run_id=run.id, now=now or p.clock(), correlation_id=run.task_id)
    return fanin.ChunkDone(counts, audit="mtm_chunk_written", audit_details=audit_details)


def _value(s: Session, as_of: date, plan: dict[str, Any], contracts: list[Contract], oid: ObjectType) -> Valuation:
    """The plan's policy, calendars, rate curves and FX method, not this process's: every
    chunk values alike. FX forwards also read the forward rate of their maturity, when
    stored, and the other leg of their designation (both legs on one basis); snapshots
    carry their MTM in the functional currency when the plan names one."""
    fx_plan, mtm_plan = FxValuationPlan.from_details(plan), MtmPlan.from_details(plan)
    partners = partners_of(s, contracts, oid, as_of)
    legs = [*contracts, *(p.contract for p in partners.values())]
    symbols = {c.underlying for c in legs} | fx_plan.conversion_symbols({c.currency for c in contracts})
    dates = d1_dates(symbols, as_of, mtm_plan.d1_policy, mtm_plan.symbol_calendars)
    dates = with_forward_symbols(dates, legs)
    prices = prices_on(s, dates)
    fx = FxMarket(dates, prices, fx_plan.curves, fx_plan.method, partners)
    return with_functional(
        value_contracts(contracts, as_of, dates, prices, fx, oid), fx_plan.functional_currency, prices
    )
