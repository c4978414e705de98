"""The effectiveness dossier (issue 24, point 1), opened in a real headless Chromium: the
demo's cash flow hedge (dollar offset, posted) and a regression-tested relationship. Each
chart is drawn with its points, every figure printed is the database's, the page asks for
nothing outside itself, and a screenshot is saved under the test's tmp dir."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy import select
from typer.testing import CliRunner

from db.engine import dispose_all
from db.hedging.journal_models import JournalEntry
from db.hedging.models import EffectivenessResult, HedgeRelationship
from db.models import MtmSnapshot
from tasks.hedging.loading import load_designations_json, load_hedged_items_json
from tasks.loading import load_contracts_csv
from tasks.nightly import run_nightly
from tasks.ports import Ports
from tests.browser import browser, open_report  # noqa: F401 - pytest fixture
from tests.fakes import Clock, InMemoryPriceSource
from tests.hedging_builders import (
    designation,
    designations_json,
    eurusd_csv,
    fx_contracts_csv,
    fx_forward,
    items_json,
    receivable,
    with_hedging,
)
from workers.cli import app

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the queries are plain selects


def dossier(cli: CliRunner, ref: str, as_of: str, out: Path) -> Path:
    result = cli.invoke(app, ["report", "dossier", ref, "--as-of", as_of, "--out", str(out)])
    dispose_all()
    assert result.exit_code == 0, result.output
    return out / f"dossier-{ref}.html"


def stored(rt: Ports, ref: str) -> dict[str, Any]:
    """What the database holds of `ref`: its results, both legs' snapshots, its entries."""
    with rt.uow() as uow:
        s = uow.session
        rel = s.scalars(select(HedgeRelationship).where(HedgeRelationship.designation_ref == ref)).one()
        results = list(
            s.scalars(
                select(EffectivenessResult).where(EffectivenessResult.relationship_id == rel.id).order_by("as_of_date")
            )
        )
        snaps = list(s.scalars(select(MtmSnapshot).order_by(MtmSnapshot.as_of_date)))
        entries = list(s.scalars(select(JournalEntry).where(JournalEntry.relationship_id == rel.id)))
        s.expunge_all()  # read, kept as read: the unit of work's rollback expires nothing of them
        return {
            "results": results,
            "h": [x for x in snaps if x.object_type == "hedge_contract" and x.object_id == rel.contract_id],
            "i": [x for x in snaps if x.object_type == "hedged_item" and x.object_id == rel.hedged_item_id],
            "entries": entries,
        }


def assert_common(opened: Any, db: dict[str, Any]) -> None:
    """Test history and snapshots as stored; both legs drawn, a marker per snapshot."""
    rows = opened.page.eval_on_selector_all(
        "#tests tbody tr", "trs => trs.map(tr => [...tr.cells].map(td => td.innerText.trim()))"
    )
    expected = [
        [
            r.as_of_date.isoformat(),
            str(r.version),
            r.method,
            r.outcome,
            *("-" if v is None else str(v) for v in (r.ratio, r.slope, r.r_squared, r.p_value, r.n_observations)),
        ]
        for r in db["results"]
    ]
    assert [row[:9] for row in rows] == expected
    shown = dict(
        opened.page.eval_on_selector_all(
            "#snapshots tbody tr", "trs => trs.map(tr => [tr.cells[0].innerText.trim(), tr.cells[1].innerText.trim()])"
        )
    )
    assert shown == {x.idempotency_key: f"{x.mtm_value} {x.currency}" for x in db["h"] + db["i"]}
    assert opened.count("#chart-mtm svg #mtm-instrument use") == len(db["h"]) > 0
    assert opened.count("#chart-mtm svg #mtm-item use") == len(db["i"]) > 0
    assert opened.requests == []
    assert opened.screenshot.stat().st_size > 10_000


@SQLITE_ONLY
def test_the_demo_hedge(runtime: Ports, clock: Clock, embedded_cli: CliRunner, tmp_path: Path, browser: Any) -> None:
    from workers.accounting_demo import run_accounting_demo

    clock.now = datetime(2026, 11, 30, 22, 30, tzinfo=UTC)  # the demo posts 20 and 30 Nov

    assert run_accounting_demo(Console(file=io.StringIO()), tmp_path) == 0  # the demo's hedge, posted twice
    page = dossier(embedded_cli, "HD-DEMO-1", "2026-11-30", tmp_path / "out")
    every = embedded_cli.invoke(
        app, ["report", "dossier", "--all", "--as-of", "2026-11-30", "--out", str(tmp_path / "all")]
    )
    assert every.exit_code == 0, every.output
    index = (tmp_path / "all" / "index.html").read_text(encoding="utf-8")
    assert 'href="dossier-HD-DEMO-1.html">HD-DEMO-1</a>' in index and (tmp_path / "all" / page.name).exists()
    db = stored(runtime, "HD-DEMO-1")
    opened = open_report(browser, page, tmp_path / "dossier-demo.png")
    assert_common(opened, db)
    # dollar offset: one marker per test whose cumulative ratio exists (20 Nov: ΔH = 0, inconclusive)
    ratios = [r for r in db["results"] if r.details["cumulative"].get("ratio") is not None]
    assert opened.count("#chart-offset svg #ratio-cumulative use") == len(ratios) == 1
    # IFRS 9 6.5.11(a): the reserve is the lower, in absolute amount, of the cumulative changes
    # since designation of the instrument (ΔH) and of the hedged item (ΔI).
    h, i = db["h"], db["i"]
    delta_h, delta_i = h[-1].mtm_value - h[0].mtm_value, i[-1].mtm_value - i[0].mtm_value
    reserve = min(abs(delta_h), abs(delta_i))  # 13654.00 - (-1804.00) = 15458.00; |-13380.92 - 1767.92| = 15148.84
    assert reserve == Decimal("15148.84")
    closing = opened.texts("#reserve tbody tr td:last-child")
    assert closing == [f"{reserve:,.2f}"]
    keys = {e.idempotency_key for e in db["entries"]}
    assert {t.split(" (")[0] for t in opened.texts("#entries td.key")} == keys
    amounts = sorted(Decimal(str(line["amount"])) for e in db["entries"] for line in e.payload["lines"])
    debits = [Decimal(t.split()[0].replace(",", "")) for t in opened.texts("#entries td:nth-last-child(2)") if t]
    credits = [-Decimal(t.split()[0].replace(",", "")) for t in opened.texts("#entries td:last-child") if t]
    assert sorted(debits + credits) == amounts


@SQLITE_ONLY
def test_a_regression_tested_relationship(
    runtime: Ports, price_source: InMemoryPriceSource, embedded_cli: CliRunner, tmp_path: Path, browser: Any
) -> None:
    rt = with_hedging(runtime)
    load_contracts_csv(fx_contracts_csv(fx_forward("FXF-9", quantity="900000")), "fx.csv")
    load_hedged_items_json(items_json(receivable("RCV-9")), "items.json")
    load_designations_json(
        designations_json(
            designation(
                "HD-9", "FXF-9", "RCV-9", method="regression", designation_date="2026-11-16", min_observations=3
            )
        ),
        "d.json",
    )
    # TARGET D-1 of Mon 16 .. Fri 20 Nov: Fri 13, Mon 16, Tue 17, Wed 18, Thu 19
    rates = (("2026-11-13", "1.08"), ("2026-11-16", "1.075"), ("2026-11-17", "1.09"), ("2026-11-18", "1.06"))
    price_source.add("ecb.csv", eurusd_csv(*rates, ("2026-11-19", "1.07")))
    for day in range(16, 21):
        run_nightly.apply_async(kwargs={"as_of": date(2026, 11, day).isoformat()}).get()
    page = dossier(embedded_cli, "HD-9", "2026-11-20", tmp_path / "out")
    db = stored(rt, "HD-9")
    opened = open_report(browser, page, tmp_path / "dossier-regression.png")
    assert_common(opened, db)
    last = db["results"][-1]
    # H = -900,000 x (rate - 1.10), I = 1,000,000 x (rate - 1.10): ΔI = -ΔH / 0.9 on each of the
    # 4 changes between the 5 valued dates, so the slope is -1 / 0.9 = -1.111111, R² = 1.
    assert (last.outcome, last.slope, last.r_squared, last.n_observations) == ("pass", Decimal("-1.111111"), 1, 4)
    assert opened.count("#chart-regression svg #scatter-points use") == last.n_observations
    points = opened.page.eval_on_selector_all(
        "#regression-points tbody tr", "trs => trs.map(tr => [...tr.cells].map(td => td.innerText.trim()))"
    )
    h = {x.as_of_date.isoformat(): x.mtm_value for x in db["h"]}
    i = {x.as_of_date.isoformat(): x.mtm_value for x in db["i"]}
    assert [p[:2] for p in points] == [
        [a, b] for a, b in zip(last.details["dates"], last.details["dates"][1:], strict=False)
    ]
    assert [(Decimal(p[2]), Decimal(p[3])) for p in points] == [(h[b] - h[a], i[b] - i[a]) for a, b, *_ in points]
    assert "R² 1" in opened.page.inner_text("#chart-regression figcaption")
