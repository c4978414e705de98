"""The demo's settlement: an NDF proposed from its fixing and settled by the sample file."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console

from tasks.hedging.settlement import settlements_report
from tasks.ports import Ports
from tests.fakes import Clock
from workers.settlement_demo import run_settlement_demo


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_demo_settles_its_maturing_forward(runtime: Ports, clock: Clock, tmp_path: Path) -> None:
    clock.now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    console = Console(record=True, width=160)

    assert run_settlement_demo(console, tmp_path) == 0

    # Bought EUR 500,000 at K = 1.04, fixing EURUSD 1.048 (26 Nov): 500,000 x 0.008 = 4,000 USD received.
    [line] = settlements_report("2026-11")["settlements"]
    assert (line["status"], line["settled_amount"], line["approvers"]) == ("settled", Decimal("4000.00"), "erin, frank")
    assert "FXN-DEMO-1 │ 2026-11-27 │ ndf    │ settled" in console.export_text()
