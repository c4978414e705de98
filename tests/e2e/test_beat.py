"""Beat, a real process, sends the nightly at its configured UTC time; a worker runs it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from db.models import BatchRun
from tasks.loading import load_contracts_csv
from tests.builders import contract, contracts_csv, prices_csv
from tests.cluster import Cluster

pytestmark = pytest.mark.e2e


def test_beat_runs_the_nightly_at_its_time(cluster: Cluster, pg_url: str, drop_dir: Path, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    fire = (now + timedelta(minutes=1)).replace(second=0, microsecond=0)
    if (fire - now).total_seconds() < 15:  # leave beat time to start before the minute turns
        fire += timedelta(minutes=1)
    load_contracts_csv(contracts_csv(contract("A")), "c.csv")
    today = fire.date()
    from core.calendars import price_date_for
    from core.values import D1Policy

    d1 = price_date_for(today, D1Policy.BUSINESS)
    (drop_dir / "p.csv").write_text(prices_csv(("LME-AL", d1.isoformat(), "2510")))
    schedule = {"HEDGEOPS_NIGHTLY_ENABLED": "true", "HEDGEOPS_NIGHTLY_AT": fire.strftime("%H:%M")}
    worker = cluster.worker("beat-worker", extra_env=schedule)
    beat = cluster.start(
        "beat", "-s", str(tmp_path / "schedule"), "--loglevel", "INFO", name="beat", extra_env=schedule
    )
    try:
        run: Any = cluster.wait_for(
            select(BatchRun).where(BatchRun.job == "nightly", BatchRun.trigger == "beat"), timeout=150
        )
        final = cluster.wait_run(run.id)
    finally:
        cluster.stop(beat)
        cluster.stop(worker)
    assert (final["as_of"], final["trigger"], final["status"]) == (today.isoformat(), "beat", "succeeded")
    assert final["counts"]["created"] == 2  # the price of D-1 and the one snapshot
