"""The morning pack (issue 24, point 2) of the demo's night, opened in a real headless
Chromium. The demo's nightly of 2026-11-20 has no LME-NI price and trips account 700002;
a vendor's restated LME-AL price, fetched again, adds a conflict. The page shows each with
the command that shows it, its figures are the database's, it asks for nothing outside
itself; and the nightly wrote a pack of its own (HEDGEOPS_REPORTS_DIR)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from db.engine import dispose_all, session_factory
from db.models import CounterpartyExposure, HedgeContract, IdempotencyConflict, MtmSnapshot
from tests.browser import browser, open_report  # noqa: F401 - pytest fixture
from workers.cli import app

DAY = "2026-11-20"
RESTATED = "symbol,price_date,price,currency,unit,price_type\nLME-AL,2026-11-19,2600.00,USD,mt,cash_settlement\n"


@pytest.fixture
def night(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[CliRunner, str]:
    monkeypatch.chdir(tmp_path)
    for name in ("HEDGEOPS_DATABASE_URL", "HEDGEOPS_BROKER_URL", "HEDGEOPS_PRICE_DROP_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HEDGEOPS_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("HEDGEOPS_REPORTS_DIR", str(tmp_path / "nightly-pack"))
    dispose_all()
    runner = CliRunner()
    assert runner.invoke(app, ["demo"]).exit_code == 5  # LME-NI has no price: completed_with_exceptions
    dispose_all()
    url = f"sqlite:///{tmp_path}/var/demo/hedgeops-demo.db"
    incoming = tmp_path / "var" / "demo" / "prices" / "incoming"
    monkeypatch.setenv("HEDGEOPS_DATABASE_URL", url)
    monkeypatch.setenv("HEDGEOPS_PRICE_DROP_DIR", str(incoming))
    monkeypatch.setenv("HEDGEOPS_DROP_SETTLE_SECONDS", "0")
    (incoming / "restated_2026-11-19.csv").write_text(RESTATED, encoding="utf-8")
    assert runner.invoke(app, ["run", "prices", "--as-of", DAY]).exit_code == 3  # completed_with_conflicts
    dispose_all()
    return runner, url


def test_the_night_needs_a_person_three_times(night: tuple[CliRunner, str], tmp_path: Path, browser: Any) -> None:
    runner, url = night
    assert (tmp_path / "nightly-pack" / f"morning-{DAY}.html").stat().st_size > 0  # the nightly's own
    result = runner.invoke(app, ["report", "morning", "--as-of", DAY, "--out", str(tmp_path / "out")])
    dispose_all()
    assert result.exit_code == 0, result.output
    opened = open_report(browser, tmp_path / "out" / f"morning-{DAY}.html", tmp_path / "morning.png")
    rows = opened.page.eval_on_selector_all(
        "#attention tbody tr", "trs => trs.map(tr => [...tr.cells].map(td => td.innerText.trim()))"
    )
    with session_factory(url)() as s:
        conflict = s.scalars(select(IdempotencyConflict)).one()
        snapshots = s.execute(
            select(HedgeContract.underlying, MtmSnapshot.mtm_value)
            .join(HedgeContract, HedgeContract.id == MtmSnapshot.object_id)
            .where(MtmSnapshot.object_type == "hedge_contract", MtmSnapshot.as_of_date == DAY)
        ).all()
        exposures = {
            e.netting_set or "-": e.utilisation
            for e in s.scalars(select(CounterpartyExposure).where(CounterpartyExposure.as_of_date == DAY))
        }
    assert ["missing price", "LME-NI of 2026-11-19", f"hedgeops check nightly --as-of {DAY}"] in rows
    assert [
        "conflict",
        f"settlement_prices {conflict.idempotency_key}",
        f"hedgeops runs show {conflict.batch_run_id}",
    ] in rows
    tripped = [r for r in rows if r[0] == "account tripped"]
    assert len(tripped) == 1 and tripped[0][1].startswith("700002 (demo)")
    assert tripped[0][2].startswith("hedgeops guard status")
    assert opened.texts("#guard td.tripped") == ["tripped"]

    sums: dict[str, Decimal] = defaultdict(Decimal)
    for underlying, value in snapshots:
        sums[underlying] += value  # exact: 2 dp amounts added as Decimals
    shown = {r[0]: Decimal(r[3]) for r in _rows(opened, "#mtm-underlying")}
    assert shown == dict(sums)
    assert {r[1]: Decimal(r[5]) for r in _rows(opened, "#limits")} == exposures
    assert "CRITICAL" in opened.page.inner_text("#check")
    assert opened.requests == []
    assert opened.screenshot is not None and opened.screenshot.stat().st_size > 10_000


def _rows(opened: Any, table: str) -> list[list[str]]:
    return list(
        opened.page.eval_on_selector_all(
            f"{table} tbody tr", "trs => trs.map(tr => [...tr.cells].map(td => td.innerText.trim()))"
        )
    )
