"""The demo's cash flow hedge: loaded, posted on two dates, its journal and reserve printed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from tasks.hedging.accounting import journals_report, reserve_report
from tasks.ports import Ports
from tests.fakes import Clock
from workers.accounting_demo import run_accounting_demo


def test_the_demo_hedge_posts_a_balanced_journal_and_its_reserve(runtime: Ports, clock: Clock, tmp_path: Path) -> None:
    clock.now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # after the month-end it posts
    console = Console(record=True, width=120)

    assert run_accounting_demo(console, tmp_path) == 0

    text = console.export_text()
    assert "HD-DEMO-1 posted on 2026-11-20, 2026-11-30: succeeded, succeeded" in text
    journal = journals_report("2026-11")
    assert journal["balanced"] and journal["totals"]["USD"]["debit"] > 0
    assert {r["entry_key"] for r in journal["rows"]} == {"FX_REVALUATION-1-2026-11-20", "FX_REVALUATION-1-2026-11-30"}
    [line] = reserve_report("2026-11")["relationships"]
    # the reserve recognised is the month's credit on 3510, the lower of the two legs' changes
    reserve = sum(r["credit"] - r["debit"] for r in journal["rows"] if r["account"] == "3510")
    assert line["recognised"] == line["closing"] == reserve > 0
    assert f"{reserve:,.2f}" in text and "total USD" in text
