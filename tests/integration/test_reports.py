"""Results you can see (issue 20, point 5): `report mtm` with prices, provenance, exceptions
and the change from the previous date; `guard alerts` and `mt5 reconciliation` from the
demo's MT5 account."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from db.engine import dispose_all
from tests.builders import contract, contracts_csv, prices_csv
from workers.cli import app


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


class TestReportMtm:
    @pytest.fixture
    def cli(self, embedded_cli: CliRunner, tmp_path: Path) -> CliRunner:
        book = contracts_csv(contract("A"), contract("B", side="sell"), contract("N", underlying="LME-NI"))
        assert embedded_cli.invoke(app, ["load", "contracts", str(write(tmp_path / "c.csv", book))]).exit_code == 0
        prices = prices_csv(("LME-AL", "2026-11-18", "2550"), ("LME-AL", "2026-11-19", "2563.50"))
        embedded_cli.invoke(app, ["load", "prices", str(write(tmp_path / "p.csv", prices))])
        for day in ("2026-11-19", "2026-11-20"):
            embedded_cli.invoke(app, ["run", "mtm", "--in-process", "--as-of", day])
        return embedded_cli

    def test_each_snapshot_its_price_provenance_and_change(self, cli: CliRunner) -> None:
        body = json.loads(cli.invoke(app, ["report", "mtm", "--as-of", "2026-11-20", "--json"]).stdout)
        assert (body["as_of"], body["previous_date"], body["by"]) == ("2026-11-20", "2026-11-19", "contract")
        a = next(line for line in body["lines"] if line["contract_ref"] == "A")
        assert (a["price_d1"], a["price_date"], a["source"], a["confidence"], a["provenance"]) == (
            "2563.500000",
            "2026-11-19",
            "vendor_csv",
            "FIRM",
            "p.csv",
        )
        assert (a["mtm"], a["previous_mtm"], a["change"]) == ("635.00", "500.00", "135.00")  # 10 t x 13.50
        assert [(e["contract_ref"], e["reason"]) for e in body["exceptions"]] == [("N", "price_unavailable")]

    def test_by_underlying_and_csv(self, cli: CliRunner) -> None:
        result = cli.invoke(app, ["report", "mtm", "--as-of", "2026-11-20", "--by", "underlying", "--csv"])
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
        assert [(r["kind"], r["underlying"], r["contracts"], r["mtm"], r["change"], r["exceptions"]) for r in rows] == [
            ("snapshot", "LME-AL", "2", "0.00", "0.00", "0"),  # a buy and a sell of 10 t cancel
            ("snapshot", "LME-NI", "0", "", "", "1"),
            ("exception", "LME-NI", "", "", "", ""),
        ]
        assert rows[-1]["reason"] == "price_unavailable"

    def test_the_table_and_mistakes(self, cli: CliRunner) -> None:
        table = cli.invoke(app, ["report", "mtm", "--as-of", "2026-11-20"]).stdout
        assert "change from 2026-11-19" in table and "p.csv" in table and "price_unavailable" in table
        both = cli.invoke(app, ["report", "mtm", "--as-of", "2026-11-20", "--json", "--csv"])
        assert both.exit_code == 2 and both.stderr.strip() == "hedgeops: --json and --csv: choose one"


def test_guard_alerts_and_a_cycles_reconciliation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("HEDGEOPS_DATABASE_URL", "HEDGEOPS_BROKER_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HEDGEOPS_LOG_LEVEL", "WARNING")
    dispose_all()  # the demo's URL is relative (var/demo/...): no engine of another test's folder
    runner = CliRunner()
    runner.invoke(app, ["demo"])
    monkeypatch.setenv("HEDGEOPS_DATABASE_URL", f"sqlite:///{tmp_path}/var/demo/hedgeops-demo.db")
    alerts = json.loads(runner.invoke(app, ["guard", "alerts", "--login", "700002", "--json"]).stdout)
    assert [(a["alert_type"], a["action"]) for a in alerts] == [
        ("execution", "positions_closed"),
        ("warning", "warning_sent"),
    ]
    assert json.loads(runner.invoke(app, ["guard", "alerts", "--login", "700001", "--json"]).stdout) == []
    assert json.loads(runner.invoke(app, ["guard", "alerts", "--since", "2999-01-01", "--json"]).stdout) == []
    cycles = json.loads(runner.invoke(app, ["mt5", "cycles", "--json"]).stdout)
    first = min(c["batch_run_id"] for c in cycles)
    rows = json.loads(runner.invoke(app, ["mt5", "reconciliation", str(first), "--json"]).stdout)
    assert sorted(r["reason"] for r in rows) == sorted(
        [
            "matched",
            "slippage",
            "partial_fill",
            "manual_close",
            "closed_by_sl_tp",
            "stop_out",
            "unknown_position",
            "gap",
        ]
    )
    missing = runner.invoke(app, ["mt5", "reconciliation", "1"])  # the nightly, not a cycle
    assert missing.exit_code == 2
    assert missing.stderr.strip() == "hedgeops: no MT5 sync cycle 1 (see `hedgeops mt5 cycles`)"
