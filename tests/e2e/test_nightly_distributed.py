"""End to end on Redis + PostgreSQL with real worker processes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from db.models import BatchRun, IdempotencyConflict, MtmException, MtmSnapshot, SettlementPrice
from tasks.loading import load_contracts_csv
from tests.builders import contract, contracts_csv, prices_csv
from tests.cluster import Cluster, rows

pytestmark = pytest.mark.e2e

AS_OF = date(2026, 11, 20)
D1 = "2026-11-19"
N_AL = 40  # LME-AL contracts; with one LME-NI, one LME-CU without price and one settled


def book() -> str:
    al = [
        contract(f"AL-{i:03d}", side="buy" if i % 2 else "sell", quantity=str(10 + i), entry_price="2500")
        for i in range(N_AL)
    ]
    return contracts_csv(
        *al,
        contract("NI-1", underlying="LME-NI", quantity="12", entry_price="16420"),
        contract("CU-1", underlying="LME-CU"),
        contract("ZN-1", status="settled"),
    )


@pytest.fixture
def worker(cluster: Cluster) -> Any:
    proc = cluster.worker("worker")
    yield proc
    cluster.stop(proc)


def nightly(cluster: Cluster, as_of: date = AS_OF) -> dict[str, Any]:
    started = cluster.trigger("hedgeops.nightly.run_nightly", as_of=as_of.isoformat()).get(timeout=60)
    return cluster.wait_run(started["batch_run_id"])


def count(url: str, model: type, *where: Any) -> int:
    return rows(url, select(func.count()).select_from(model).where(*where))[0][0]


def snapshots(url: str) -> dict[int, tuple[Decimal, int, str]]:
    return {
        oid: (value, price_id, sha)
        for oid, value, price_id, sha in rows(
            url, select(MtmSnapshot.object_id, MtmSnapshot.mtm_value, MtmSnapshot.price_id, MtmSnapshot.payload_sha256)
        )
    }


class TestNightlyOnWorkers:
    def test_nightly_rerun_and_a_changed_price(
        self, cluster: Cluster, worker: Any, pg_url: str, drop_dir: Path
    ) -> None:
        load_contracts_csv(book(), "book.csv")
        (drop_dir / "lme.csv").write_text(prices_csv(("LME-AL", D1, "2563.50"), ("LME-NI", D1, "16388.00")))

        first = nightly(cluster)
        active = N_AL + 2
        assert first["status"] == "completed_with_exceptions"  # CU-1 has no D-1 price
        assert count(pg_url, MtmSnapshot) == N_AL + 1  # one per active contract with a price
        assert count(pg_url, MtmException, MtmException.reason == "price_unavailable") == 1  # CU-1
        assert first["counts"]["processed"] == 2 + active
        mtm_run = rows(pg_url, select(BatchRun).where(BatchRun.job == "mtm"))[0][0]
        assert (mtm_run.chunks_total, mtm_run.chunks_done) == (6, 6)  # 42 contracts in chunks of 7
        ni = rows(
            pg_url,
            select(MtmSnapshot.mtm_value)
            .join(SettlementPrice, SettlementPrice.id == MtmSnapshot.price_id)
            .where(SettlementPrice.symbol == "LME-NI"),
        )
        assert ni[0][0] == Decimal("-384.00")  # buy 12 * (16388.00 - 16420.00) = -384.00
        before = snapshots(pg_url)

        again = nightly(cluster)  # the price file was archived: nothing to read, every snapshot existing
        assert again["status"] == "completed_with_exceptions"
        assert again["counts"] == {
            "processed": active,
            "created": 0,
            "existing": active - 1,
            "conflicts": 0,
            "exceptions": 1,
        }
        assert (drop_dir / "archive").is_dir() and not (drop_dir / "lme.csv").exists()
        assert snapshots(pg_url) == before

        (drop_dir / "lme.csv").write_text(prices_csv(("LME-AL", D1, "2563.50"), ("LME-NI", D1, "16400.00")))
        changed = nightly(cluster)
        assert changed["status"] == "completed_with_conflicts"
        assert changed["counts"]["conflicts"] == 1
        conflict = rows(pg_url, select(IdempotencyConflict))[0][0]
        assert conflict.idempotency_key == f"PRICE:LME-NI:{D1}:vendor_csv"
        assert (conflict.existing_payload["price"], conflict.incoming_payload["price"]) == ("16388", "16400")
        assert rows(pg_url, select(SettlementPrice.price).where(SettlementPrice.symbol == "LME-NI"))[0][0] == Decimal(
            "16388.000000"
        )
        assert snapshots(pg_url) == before
        attempts = [r[0] for r in rows(pg_url, select(BatchRun.attempt).where(BatchRun.job == "nightly"))]
        assert sorted(attempts) == [1, 2, 3]

    def test_two_triggers_at_once_do_the_work_once(
        self, cluster: Cluster, worker: Any, pg_url: str, drop_dir: Path
    ) -> None:
        load_contracts_csv(book(), "book.csv")
        (drop_dir / "lme.csv").write_text(
            prices_csv(("LME-AL", D1, "2563.50"), ("LME-NI", D1, "16388.00"), ("LME-CU", D1, "10012.25"))
        )
        results = [cluster.trigger("hedgeops.nightly.run_nightly", as_of=AS_OF.isoformat()) for _ in range(2)]
        summaries = [r.get(timeout=60) for r in results]
        run_ids = {s["batch_run_id"] for s in summaries}
        assert len(run_ids) == 1, summaries  # both report the same run
        final = cluster.wait_run(run_ids.pop())
        assert final["status"] == "succeeded"
        assert count(pg_url, BatchRun, BatchRun.job == "nightly") == 1
        assert count(pg_url, BatchRun, BatchRun.job == "mtm") == 1
        assert count(pg_url, MtmSnapshot) == N_AL + 2
        assert final["counts"]["created"] == 3 + N_AL + 2


class TestCliDistributed:
    def test_run_wait_json_waits_for_the_whole_chain(
        self, cluster: Cluster, worker: Any, pg_url: str, drop_dir: Path, tmp_path: Path
    ) -> None:
        import json
        import subprocess

        from tests.cluster import BIN

        load_contracts_csv(book(), "book.csv")
        (drop_dir / "lme.csv").write_text(prices_csv(("LME-AL", D1, "2563.50")))

        def hedgeops(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [str(BIN / "hedgeops"), *args],
                env=cluster.env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=120,
            )

        queued = hedgeops("run", "mtm", "--as-of", "2026-11-18", "--json")  # another date: no overlap
        assert queued.returncode == 0, queued.stderr
        assert json.loads(queued.stdout)["status"] == "queued"
        waited = hedgeops("run", "nightly", "--as-of", AS_OF.isoformat(), "--wait", "--json")
        assert waited.returncode == 5, waited.stderr  # completed with exceptions
        assert "as task " in waited.stderr  # the task id is said at once
        assert "Exception ignored" not in waited.stderr and "Traceback" not in waited.stderr
        run = json.loads(waited.stdout)
        assert (run["job"], run["status"], run["price_missing"]) == ("nightly", "completed_with_exceptions", 2)
        # 1 price + 41 snapshots (AL and NI contracts), NI-1 and CU-1 without a D-1 price
        assert run["counts"] == {
            "processed": 1 + N_AL + 2,
            "created": 1 + N_AL,
            "existing": 0,
            "conflicts": 0,
            "exceptions": 2,
        }
        status = json.loads(hedgeops("status", "--json").stdout)
        assert {(s["job"], s["as_of"]) for s in status} >= {("nightly", "2026-11-20"), ("mtm", "2026-11-20")}
