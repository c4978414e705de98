"""A run proves what it covered (issue 21, point 1), in process on SQLite and PostgreSQL (on
PostgreSQL through the in-database valuation, on SQLite through core's).

An MTM run is planned with its chunk messages held (the fan-out's send is an argument);
between its chunks a contracts file is committed, or a planned contract disappears; then
the held messages run, eagerly, one by one. Was: chunks read the status when they ran, so
a status change halfway left contracts active at the start unvalued and valued cancelled
ones, and the run still ended `succeeded`."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import create_engine, select, text

from core.plans import fingerprint
from core.values import Job, Trigger
from db import ledger
from db.models import AuditEvent, MtmException, MtmSnapshot
from tasks.coverage_check import coverage_findings
from tasks.hedging.ports import hedging_ports
from tasks.loading import load_contracts_csv
from tasks.ports import Ports
from tasks.prices import fetch_settlement_prices
from tasks.summary import run_summary
from tasks.valuation import compute_mtm_snapshots, plan_mtm
from tests.builders import contract, contracts_csv, prices_csv
from tests.fakes import Clock, InMemoryPriceSource

AS_OF, NEXT = date(2026, 11, 20), date(2026, 11, 23)  # Friday (D-1 Thursday 19th), Monday (D-1 Friday 20th)
#: K0..K5 active, K6 and K7 cancelled; chunks of two (the runtime's): 1-2, 3-4, 5-6.
BOOK = [contract(f"K{i}", status="active" if i < 6 else "cancelled") for i in range(8)]
#: Committed after the first chunk: K0, K3 and K4 cancelled, K6 active again, K8 new and active.
CHANGES = [contract("K0", status="cancelled"), contract("K3", status="cancelled"), contract("K4", status="cancelled")]
CHANGES += [contract("K6", status="active"), contract("K8", status="active")]


def seed(price_source: InMemoryPriceSource) -> None:
    load_contracts_csv(contracts_csv(*BOOK), "book.csv")
    # 10 mt bought at 2500: mtm = +1 * 10 * (2510.125 - 2500) = 101.25 on both dates
    price_source.add("p.csv", prices_csv(("LME-AL", "2026-11-19", "2510.125"), ("LME-AL", "2026-11-20", "2510.125")))
    fetch_settlement_prices.apply(kwargs={"as_of": AS_OF.isoformat()}).get()


def planned_run(rt: Ports) -> tuple[int, list[Any]]:
    """An MTM run of AS_OF started and planned; its chunk messages held, not sent."""
    held: list[Any] = []
    with rt.uow() as uow:
        run = ledger.start_run(
            uow.session, Job.MTM, AS_OF, Trigger.MANUAL, now=rt.clock(), stale_after=rt.stale_after
        ).run
        uow.commit()
        run_id = run.id
    plan_mtm(rt, hedging_ports(), run_id, send=held.extend)
    return run_id, held


def summary(rt: Ports, run_id: int) -> dict[str, Any]:
    with rt.uow() as uow:
        return run_summary(ledger.get_run(uow.session, run_id))


def valued(rt: Ports, day: date) -> tuple[list[str], list[tuple[str, str]]]:
    """The refs with a snapshot of `day`, and (ref, reason) of its exceptions."""
    with rt.uow() as uow:
        s = uow.session
        refs = {i: r for i, r in s.execute(text("SELECT id, contract_ref FROM hedge_contracts"))}
        snaps = s.scalars(select(MtmSnapshot.object_id).where(MtmSnapshot.as_of_date == day))
        excs = s.execute(select(MtmException.object_id, MtmException.reason).where(MtmException.as_of_date == day))
        return sorted(refs.get(i, f"#{i}") for i in snaps), sorted((refs.get(i, f"#{i}"), r) for i, r in excs)


class TestStatusChangeDuringARun:
    def test_the_run_values_its_plan_and_the_change_takes_effect_next_run(
        self, runtime: Ports, price_source: InMemoryPriceSource, clock: Clock
    ) -> None:
        seed(price_source)
        run_id, held = planned_run(runtime)
        assert len(held) == 3
        held[0].apply().get()  # chunk 0: K0, K1
        load_contracts_csv(contracts_csv(*CHANGES), "changes.csv")  # committed halfway
        for message in held[1:]:
            message.apply().get()

        ended = summary(runtime, run_id)
        assert ended["status"] == "succeeded"
        assert ended["counts"] == {"processed": 6, "created": 6, "existing": 0, "conflicts": 0, "exceptions": 0}
        assert valued(runtime, AS_OF) == (["K0", "K1", "K2", "K3", "K4", "K5"], [])  # active when planned
        runs, findings = coverage_findings(AS_OF)
        assert ([(r.run_id, r.planned, r.missing, r.plan_intact) for r in runs], findings) == (
            [(run_id, {"hedge_contract": 6}, {}, True)],
            [],
        )

        clock.now = datetime(2026, 11, 23, 22, 30, tzinfo=UTC)
        nxt = compute_mtm_snapshots.apply(kwargs={"as_of": NEXT.isoformat()}).get()
        assert summary(runtime, nxt["batch_run_id"])["status"] == "succeeded"
        assert valued(runtime, NEXT) == (["K1", "K2", "K5", "K6", "K8"], [])  # the changes, from the next run


class TestAGap:
    def test_a_planned_contract_not_valued_is_named_and_the_run_not_succeeded(
        self, runtime: Ports, price_source: InMemoryPriceSource, db_url: str
    ) -> None:
        seed(price_source)
        run_id, held = planned_run(runtime)
        engine = create_engine(db_url)
        with engine.begin() as conn:  # somebody deletes K3 (id 4, planned in chunk 1) behind the loader
            conn.execute(text("DELETE FROM hedge_contracts WHERE contract_ref = 'K3'"))
        engine.dispose()
        for message in held:
            message.apply().get()

        ended = summary(runtime, run_id)
        assert ended["status"] == "completed_with_exceptions"
        assert ended["counts"] == {"processed": 6, "created": 5, "existing": 0, "conflicts": 0, "exceptions": 1}
        assert valued(runtime, AS_OF) == (["K0", "K1", "K2", "K4", "K5"], [("#4", "not_valued")])
        with runtime.uow() as uow:
            run = ledger.get_run(uow.session, run_id)
            audit = uow.session.scalars(select(AuditEvent.details).where(AuditEvent.event_type == "run_not_covered"))
            assert (run.details["not_valued"], list(audit)) == (
                1,
                [{"not_valued": 1, "planned": {"hedge_contract": 6}, "hedge_contract": [4]}],
            )
        _, findings = coverage_findings(AS_OF)
        assert [(f.snapshot_key, f.problem) for f in findings] == [("MTM:hedge_contract:4:2026-11-20", "not_valued")]


def test_the_plan_keeps_each_chunks_members_and_the_sets_fingerprint(
    runtime: Ports, price_source: InMemoryPriceSource
) -> None:
    """Members as runs of ids: with K1 (id 2) cancelled before the plan, and K6, K7 (7, 8)
    cancelled, the active ids 1, 3, 4, 5, 6 in chunks of two."""
    seed(price_source)
    load_contracts_csv(contracts_csv(contract("K1", status="cancelled")), "k1.csv")
    run_id, _ = planned_run(runtime)
    with runtime.uow() as uow:
        plan = ledger.chunk_plan(uow.session, run_id)
        details = ledger.get_run(uow.session, run_id).details
    assert [(c.kwargs, c.members) for c in plan] == [
        ({"first_id": 1, "last_id": 3}, {"hedge_contract": [[1, 1], [3, 3]]}),
        ({"first_id": 4, "last_id": 5}, {"hedge_contract": [[4, 5]]}),
        ({"first_id": 6, "last_id": 6}, {"hedge_contract": [[6, 6]]}),
    ]
    assert details["planned"] == {"hedge_contract": {"count": 5, "fingerprint": fingerprint([[1, 1], [3, 6]])}}
    load_contracts_csv(contracts_csv(contract("K1", status="active")), "k1-again.csv")
    again: list[Any] = []
    plan_mtm(runtime, hedging_ports(), run_id, send=again.extend)  # the stale-run sweep's re-plan
    with runtime.uow() as uow:
        assert ledger.chunk_plan(uow.session, run_id) == plan  # kept, never planned again
    assert [m.kwargs["chunk_no"] for m in again] == [0, 1, 2]
