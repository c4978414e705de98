"""Scenario 22 of the fault suite (issue 21, point 1): contract statuses change during an MTM
run, on a real worker with a Redis of its own and PostgreSQL.

600 active contracts, an MTM run of 2026-11-20 planned in 120 chunks of 5 (its messages
waiting); a worker (one process) starts consuming them, and after its first chunk a
contracts file is committed that cancels every other contract of the book (300) and adds
100 new active ones. Was (issue 21, 6,000 contracts): chunks read the status when they ran,
so contracts active at the start got nothing and cancelled ones were valued; the run
ended `succeeded` and `verify` exited 0.

Then the next run (2026-11-23), during which a contract it planned is deleted behind the
loader: a gap, which its end must name."""

from __future__ import annotations

import subprocess
import time
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from db.models import AuditEvent, MtmException, MtmSnapshot
from tasks.loading import load_contracts_csv
from tasks.valuation import compute_mtm_snapshots
from tests.builders import contract, contracts_csv, prices_csv
from tests.cluster import BIN, rows
from tests.faults.harness import AS_OF, OwnRedis, chunks_done, load_book, own_cluster, wait_until

pytestmark = pytest.mark.e2e

N, CHUNK, NEW = 600, 5, 100
NEXT = "2026-11-23"  # Monday: its D-1 is Friday 2026-11-20
#: The book's contracts (ids 1..N, refs K000000..) that the file cancels: every other one.
CANCELLED = range(0, N, 2)


def verify(env: dict[str, str], *days: str) -> list[tuple[int, str]]:
    """`hedgeops verify` of each date, the processes side by side: (exit code, output) each."""
    procs = [
        subprocess.Popen(
            [str(BIN / "hedgeops"), "verify", "--as-of", day],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for day in days
    ]
    return [(p.wait(timeout=120), p.communicate()[0]) for p in procs]


def snapshot_ids(url: str, day: str) -> set[int]:
    on = MtmSnapshot.as_of_date == date.fromisoformat(day)
    return {int(i) for (i,) in rows(url, select(MtmSnapshot.object_id).where(on))}


def test_22_statuses_changed_during_a_run_take_effect_from_the_next_run(
    pg_url: str, tmp_path: Path, redis_server: OwnRedis
) -> None:
    drop = tmp_path / "incoming"
    cluster = own_cluster(pg_url, tmp_path, redis_server.url, HEDGEOPS_MTM_CHUNK_SIZE=str(CHUNK))
    try:
        cluster.worker("w", queues="prices", concurrency=1)  # valuation added once the run is planned
        load_book(N, drop)
        prices = cluster.trigger("hedgeops.prices.fetch_settlement_prices", as_of=AS_OF).get(60)["batch_run_id"]
        cluster.wait_run(prices)
        first = int(compute_mtm_snapshots.apply(kwargs={"as_of": AS_OF}).get()["batch_run_id"])  # 120 chunks wait
        t0 = time.monotonic()
        cluster.app.control.add_consumer("valuation", reply=False)  # the worker takes the chunks from now
        wait_until(lambda: chunks_done(pg_url, first) >= 1, 60, "the first chunk")
        changes = [contract(f"K{i:06d}", status="cancelled") for i in CANCELLED]
        changes += [contract(f"NEW{i:03d}") for i in range(NEW)]
        load_contracts_csv(contracts_csv(*changes), "changes.csv")
        done_at_change = chunks_done(pg_url, first)
        ended = cluster.wait_run(first, timeout=120)
        took = time.monotonic() - t0
        valued_first = snapshot_ids(pg_url, AS_OF)

        # the next run: the changes in force; a contract it planned (the last new one) deleted during it
        (drop / "p2.csv").write_text(prices_csv(("LME-AL", "2026-11-20", "2510.125")))
        cluster.wait_run(cluster.trigger("hedgeops.prices.fetch_settlement_prices", as_of=NEXT).get(60)["batch_run_id"])
        second = cluster.trigger("hedgeops.valuation.compute_mtm_snapshots", as_of=NEXT).get(60)["batch_run_id"]
        wait_until(lambda: chunks_done(pg_url, second) >= 1, 60, "the next run's first chunk")
        engine = create_engine(pg_url)
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM hedge_contracts WHERE contract_ref = :ref"), {"ref": f"NEW{NEW - 1:03d}"})
        engine.dispose()
        ended_next = cluster.wait_run(second, timeout=120)
        valued_next = snapshot_ids(pg_url, NEXT)
        on_next = MtmException.as_of_date == date.fromisoformat(NEXT)
        gaps = rows(pg_url, select(MtmException.object_id, MtmException.reason).where(on_next))
        audited = rows(pg_url, select(AuditEvent.details).where(AuditEvent.event_type == "run_not_covered"))
        verified, verified_next = verify(cluster.env, AS_OF, NEXT)
    finally:
        cluster.stop_all()
    print(
        f"\nscenario 22: statuses changed at chunk {done_at_change} of {N // CHUNK}; run {ended['status']} "
        f"in {took:.1f} s, {ended['counts']}; next run {ended_next['status']}, {ended_next['counts']}"
    )
    assert 1 <= done_at_change < N // CHUNK  # the file landed during the run
    assert ended["status"] == "succeeded"
    assert ended["counts"] == {"processed": N, "created": N, "existing": 0, "conflicts": 0, "exceptions": 0}
    assert valued_first == set(range(1, N + 1))  # exactly the contracts active when it was planned
    assert verified[0] == 0, verified[1]

    kept = {i + 1 for i in range(N) if i not in CANCELLED}  # ids are load order: K000000 is 1
    new = set(range(N + 1, N + NEW + 1))
    deleted = N + NEW
    assert valued_next == kept | new - {deleted}  # the changes, from the next run
    assert gaps == [(deleted, "not_valued")]
    assert ended_next["status"] == "completed_with_exceptions"
    assert ended_next["counts"] == {
        "processed": len(kept) + NEW,
        "created": len(kept) + NEW - 1,
        "existing": 0,
        "conflicts": 0,
        "exceptions": 1,
    }
    assert [d["hedge_contract"] for (d,) in audited] == [[deleted]]
    assert verified_next[0] == 1 and f"MTM:hedge_contract:{deleted}:{NEXT}" in verified_next[1]
    assert "not_valued" in verified_next[1]
