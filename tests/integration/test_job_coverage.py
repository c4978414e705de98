"""Effectiveness, postings and a terminal's sync cycle prove what they covered (issue 21,
point 1), in process on SQLite and PostgreSQL: each chunk's plan keeps its members (the
relationships, the accounts), and at the run's end every planned one without a result is a
`coverage_gaps` row (`not_assessed`, `not_posted`, `not_synced`), so the run is not
`succeeded`; `verify` names the gaps of the date's effectiveness and postings runs.

A run is planned with its chunk messages held; between its chunks a result of the first
chunk is lost (deleted behind the write path, PostgreSQL's append-only trigger set aside
for it), or a planned account disappears; then the held messages run, eagerly."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import create_engine, select, text

from core.hedging.fx import RateSource
from core.hedging.policy import HedgingPolicy
from core.mt5.accounts import cycle_job
from core.values import Job, Trigger
from db import ledger
from db.coverage_gaps import CoverageGap
from db.models import BatchRun
from tasks.coverage_check import coverage_findings
from tasks.hedging.effectiveness import plan_effectiveness
from tasks.hedging.loading import load_designations_json, load_hedged_items_json
from tasks.hedging.ports import HedgingPorts, configure, hedging_ports
from tasks.hedging.postings import plan_postings
from tasks.loading import load_contracts_csv
from tasks.mt5.cycle import plan_cycle
from tasks.nightly import run_nightly
from tasks.ports import Ports
from tasks.prices import fetch_settlement_prices
from tasks.summary import run_summary
from tasks.valuation import compute_mtm_snapshots
from tests.fakes import Clock, InMemoryPriceSource
from tests.hedging_builders import (
    designation,
    designations_json,
    eurusd_csv,
    fx_contracts_csv,
    fx_forward,
    items_json,
    receivable,
)
from tests.mt5 import Mt5World, account, world  # noqa: F401 - fixture

DESIGNATED, SEP = date(2026, 8, 31), date(2026, 9, 30)  # TARGET D-1: Fri 28 Aug, Tue 29 Sep


def two_hedges(rt: Ports, price_source: InMemoryPriceSource, clock: Clock) -> None:
    """Two cash flow hedges (relationships 1 and 2), chunks of one relationship; the
    designation date's nightly run whole (every step covers its plan: `succeeded`), then
    SEP's prices and MTM."""
    clock.now = price_source.now = datetime(2027, 1, 4, 22, 30, tzinfo=UTC)
    policy = HedgingPolicy(discount_rates={"USD": Decimal(0)}, fx_method=RateSource.SPOT_PROXY, chunk_size=1)
    configure(HedgingPorts(policy, postings_chunk_size=1))
    load_contracts_csv(fx_contracts_csv(*(fx_forward(f"FXF-{i}", trade_date="2026-08-31") for i in (1, 2))), "fx.csv")
    load_hedged_items_json(items_json(*(receivable(f"RCV-{i}", amount="980000") for i in (1, 2))), "items.json")
    entries = [designation(f"HD-{i}", f"FXF-{i}", f"RCV-{i}", designation_date="2026-08-31") for i in (1, 2)]
    load_designations_json(designations_json(*entries), "d.json")
    price_source.add("ecb.csv", eurusd_csv(("2026-08-28", "1.1000"), ("2026-09-29", "1.1200")))
    nightly = run_nightly.apply_async(kwargs={"as_of": DESIGNATED.isoformat()}).get()
    assert steps(rt, nightly["batch_run_id"]) == {
        "prices": "succeeded",
        "mtm": "succeeded",
        "effectiveness": "succeeded",
        "postings": "succeeded",
    }
    fetch_settlement_prices.apply(kwargs={"as_of": SEP.isoformat()}).get()
    mtm = compute_mtm_snapshots.apply(kwargs={"as_of": SEP.isoformat()}).get()
    assert ended(rt, mtm["batch_run_id"])[0]["status"] == "succeeded"


def steps(rt: Ports, nightly_id: int) -> dict[str, str]:
    with rt.uow() as uow:
        rows = uow.session.execute(select(BatchRun.job, BatchRun.status).where(BatchRun.parent_run_id == nightly_id))
        return {job: status for job, status in rows}


def held_run(rt: Ports, job: Job, plan: Any) -> tuple[int, list[Any]]:
    """A run of `job` at SEP, planned; its chunk messages held, not sent."""
    held: list[Any] = []
    with rt.uow() as uow:
        run = ledger.start_run(uow.session, job, SEP, Trigger.MANUAL, now=rt.clock(), stale_after=rt.stale_after).run
        uow.commit()
        run_id = run.id
    plan(rt, hedging_ports(), run_id, send=held.extend)
    return run_id, held


def lose(db_url: str, statement: str) -> None:
    """A result deleted behind the write path (on PostgreSQL past its append-only trigger)."""
    engine = create_engine(db_url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(statement))
    engine.dispose()


def ended(rt: Ports, run_id: int) -> tuple[dict[str, Any], dict[str, Any], list[tuple[str, str, int, str]]]:
    with rt.uow() as uow:
        run = ledger.get_run(uow.session, run_id)
        gaps = uow.session.execute(
            select(CoverageGap.job, CoverageGap.object_type, CoverageGap.object_id, CoverageGap.reason).where(
                CoverageGap.batch_run_id == run_id
            )
        )
        return run_summary(run), dict(run.details), [tuple(g) for g in gaps]


class TestEffectiveness:
    def test_a_planned_relationship_without_a_result_is_not_assessed(
        self, runtime: Ports, price_source: InMemoryPriceSource, clock: Clock, db_url: str
    ) -> None:
        two_hedges(runtime, price_source, clock)
        run_id, held = held_run(runtime, Job.EFFECTIVENESS, plan_effectiveness)
        assert len(held) == 2
        held[0].apply().get()  # relationship 1 tested
        lose(db_url, "DELETE FROM effectiveness_results WHERE relationship_id = 1 AND as_of_date = '2026-09-30'")
        held[1].apply().get()

        summary, details, gaps = ended(runtime, run_id)
        assert (summary["status"], summary["counts"]["exceptions"]) == ("completed_with_exceptions", 1)
        assert (details["planned"]["hedge_relationship"]["count"], details["not_valued"]) == (2, 1)
        assert gaps == [("effectiveness", "hedge_relationship", 1, "not_assessed")]
        _, findings = coverage_findings(SEP)
        assert [(f.snapshot_key, f.problem) for f in findings] == [("EFF:1:*:2026-09-30", "not_assessed")]


class TestPostings:
    def test_a_planned_relationship_without_an_entry_is_not_posted(
        self, runtime: Ports, price_source: InMemoryPriceSource, clock: Clock, db_url: str
    ) -> None:
        two_hedges(runtime, price_source, clock)
        eff_id, eff = held_run(runtime, Job.EFFECTIVENESS, plan_effectiveness)
        for message in eff:
            message.apply().get()
        assert ended(runtime, eff_id)[0]["status"] == "succeeded"  # the normal case
        run_id, held = held_run(runtime, Job.POSTINGS, plan_postings)
        assert len(held) == 2
        held[0].apply().get()  # relationship 1 posted
        lose(db_url, "DELETE FROM journal_entries WHERE relationship_id = 1 AND as_of_date = '2026-09-30'")
        held[1].apply().get()

        summary, details, gaps = ended(runtime, run_id)
        assert (summary["status"], summary["counts"]["exceptions"]) == ("completed_with_exceptions", 1)
        assert (details["planned"]["hedge_relationship"]["count"], details["not_valued"]) == (2, 1)
        assert gaps == [("postings", "hedge_relationship", 1, "not_posted")]
        runs, findings = coverage_findings(SEP)
        assert {r.job: r.missing for r in runs} == {
            "mtm": {},
            "effectiveness": {},
            "postings": {"hedge_relationship": [1]},
        }
        assert [(f.snapshot_key, f.problem) for f in findings] == [("FX_REVALUATION-1-2026-09-30", "not_posted")]


class TestSyncCycle:
    def test_the_normal_cycle_plans_its_accounts_and_succeeds(self, world: Mt5World) -> None:
        world.add(account(5001))
        world.add(account(5002))
        world.start()
        summary = world.sync()
        _, details, gaps = ended(world.runtime, summary["batch_run_id"])
        assert (summary["status"], details["planned"]["mt5_account"]["count"], details["not_valued"], gaps) == (
            "succeeded",
            2,
            0,
            [],
        )

    def test_a_planned_account_without_a_snapshot_is_not_synced(
        self, world: Mt5World, clock: Clock, db_url: str
    ) -> None:
        world.add(account(5001))
        world.add(account(5002))
        world.start()
        held: list[Any] = []
        with world.runtime.uow() as uow:
            run = ledger.start_run(
                uow.session,
                cycle_job("t1"),
                clock().date(),
                Trigger.BEAT,
                now=clock(),
                stale_after=timedelta(minutes=10),
                details={"terminal": "t1", "logins": None},
                any_date=True,
            ).run
            uow.commit()
            run_id = run.id
        plan_cycle(world.runtime, world.mt5, run_id, send=held.extend)
        lose(db_url, "DELETE FROM mt5_accounts WHERE login = 5002")  # planned, gone before its chunk ran
        for message in held:
            message.apply().get()

        summary, details, gaps = ended(world.runtime, run_id)
        assert summary["status"] != "succeeded"
        assert (summary["counts"]["exceptions"], details["not_valued"]) == (1, 1)
        assert gaps == [("mt5_sync:t1", "mt5_account", 2, "not_synced")]
