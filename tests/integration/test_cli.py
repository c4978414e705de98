"""The command line on a real database: loading files, running jobs, status, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from db.engine import session_factory
from db.models import AuditEvent, HedgeContract, SettlementPrice
from tests.builders import contract, contracts_csv, prices_csv
from workers.cli import app


@pytest.fixture
def cli(embedded_cli: CliRunner) -> CliRunner:
    return embedded_cli


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def contracts_in(db_url: str) -> dict[str, str]:
    with session_factory(db_url)() as s:
        return {c.contract_ref: c.status for c in s.scalars(select(HedgeContract))}


class TestLoadContracts:
    def test_loading_twice_is_idempotent(self, cli: CliRunner, db_url: str, tmp_path: Path) -> None:
        path = write(tmp_path, "c.csv", contracts_csv(contract("A"), contract("B", side="sell")))
        first = cli.invoke(app, ["load", "contracts", str(path)])
        second = cli.invoke(app, ["load", "contracts", str(path)])
        assert first.exit_code == 0 and "2 created, 0 existing" in first.output
        assert second.exit_code == 0 and "0 created, 2 existing" in second.output
        assert contracts_in(db_url) == {"A": "active", "B": "active"}

    def test_a_status_change_is_applied_and_audited(self, cli: CliRunner, db_url: str, tmp_path: Path) -> None:
        cli.invoke(app, ["load", "contracts", str(write(tmp_path, "c.csv", contracts_csv(contract("A"))))])
        result = cli.invoke(
            app, ["load", "contracts", str(write(tmp_path, "d.csv", contracts_csv(contract("A", status="settled"))))]
        )
        assert result.exit_code == 0 and "1 status changed" in result.output
        assert contracts_in(db_url) == {"A": "settled"}
        with session_factory(db_url)() as s:
            event = s.scalars(select(AuditEvent).where(AuditEvent.event_type == "contract_status_changed")).one()
            assert (event.details["from"], event.details["to"]) == ("active", "settled")

    def test_any_other_change_is_refused_by_name_and_nothing_is_written(
        self, cli: CliRunner, db_url: str, tmp_path: Path
    ) -> None:
        cli.invoke(app, ["load", "contracts", str(write(tmp_path, "c.csv", contracts_csv(contract("A"))))])
        changed = contracts_csv(contract("NEW"), contract("A", quantity="11", entry_price="2600", status="settled"))
        result = cli.invoke(app, ["load", "contracts", str(write(tmp_path, "d.csv", changed))])
        assert result.exit_code == 2
        assert "A: entry_price, quantity changed" in result.output
        assert contracts_in(db_url) == {"A": "active"}  # neither NEW nor the status change landed

    def test_a_file_that_is_not_a_contracts_file_writes_nothing(
        self, cli: CliRunner, db_url: str, tmp_path: Path
    ) -> None:
        path = write(tmp_path, "prices.csv", prices_csv(("LME-AL", "2026-11-19", "2563.5")))
        result = cli.invoke(app, ["load", "contracts", str(path)])
        assert result.exit_code == 2
        assert "not a contracts file: header lacks contract_ref" in result.output
        assert contracts_in(db_url) == {}

    def test_bad_rows_are_each_named_and_nothing_is_loaded(self, cli: CliRunner, db_url: str, tmp_path: Path) -> None:
        text = contracts_csv(contract("A"), contract("B", side="long"), contract("C", quantity="-1"))
        result = cli.invoke(app, ["load", "contracts", str(write(tmp_path, "c.csv", text))])
        assert result.exit_code == 2
        assert "c.csv:3: side" in result.output and "c.csv:4: quantity" in result.output
        assert contracts_in(db_url) == {}

    def test_a_missing_or_binary_file_is_a_clear_error(self, cli: CliRunner, tmp_path: Path) -> None:
        missing = cli.invoke(app, ["load", "contracts", str(tmp_path / "nope.csv")])
        binary = cli.invoke(app, ["load", "contracts", str(write(tmp_path, "x.csv", b"\xff\xfe\x00bad"))])
        assert missing.exit_code == 2 and "no such file" in missing.output
        assert binary.exit_code == 2 and "not UTF-8" in binary.output


class TestLoadPrices:
    def test_good_rows_land_and_each_bad_row_is_reported(self, cli: CliRunner, db_url: str, tmp_path: Path) -> None:
        text = (
            "symbol,price_date,price,currency,unit,price_type\n"
            "LME-AL,2026-11-19,2563.50,USD,mt,cash_settlement\n"
            "LME-CU,2026-11-19,0,USD,mt,cash_settlement\n"
            "LME-ZN,19/11/2026,2931,USD,mt,cash_settlement\n"
            "LME-NI,2026-11-19,16388,USD,mt,cash_settlement\n"
        )
        result = cli.invoke(app, ["load", "prices", str(write(tmp_path, "p.csv", "\ufeff" + text))])
        assert result.exit_code == 1
        assert "2 created, 0 existing, 0 conflicts, 2 rejected" in result.output
        assert "rejected p.csv:3: price" in result.output and "rejected p.csv:4: price_date" in result.output
        with session_factory(db_url)() as s:
            assert sorted(s.scalars(select(SettlementPrice.symbol))) == ["LME-AL", "LME-NI"]

    def test_a_file_that_is_not_a_price_file_writes_nothing(self, cli: CliRunner, db_url: str, tmp_path: Path) -> None:
        path = write(tmp_path, "c.csv", contracts_csv(contract("A")))
        result = cli.invoke(app, ["load", "prices", str(path)])
        assert result.exit_code == 2 and "not a prices file" in result.output
        with session_factory(db_url)() as s:
            assert s.scalar(select(func.count()).select_from(SettlementPrice)) == 0


class TestRunAndStatus:
    def test_run_nightly_json_then_status_json(self, cli: CliRunner, db_url: str, tmp_path: Path) -> None:
        cli.invoke(app, ["load", "contracts", str(write(tmp_path, "c.csv", contracts_csv(contract("A"))))])
        write(tmp_path / "incoming", "p.csv", prices_csv(("LME-AL", "2026-11-19", "2510")))
        result = cli.invoke(app, ["run", "nightly", "--in-process", "--as-of", "2026-11-20", "--json"])
        assert result.exit_code == 0, result.output
        run = json.loads(result.stdout)
        assert {k: run[k] for k in ("job", "as_of", "status")} == {
            "job": "nightly",
            "as_of": "2026-11-20",
            "status": "succeeded",
        }
        assert run["counts"] == {"processed": 2, "created": 2, "existing": 0, "conflicts": 0, "exceptions": 0}
        status = json.loads(cli.invoke(app, ["status", "--json"]).stdout)
        assert [(s["job"], s["status"]) for s in status] == [
            ("postings", "succeeded"),
            ("effectiveness", "succeeded"),
            ("mtm", "succeeded"),
            ("prices", "succeeded"),
            ("nightly", "succeeded"),
        ]
        assert status[4]["batch_run_id"] == run["batch_run_id"]

    def test_run_mtm_alone_without_prices_reports_exceptions(self, cli: CliRunner, tmp_path: Path) -> None:
        cli.invoke(app, ["load", "contracts", str(write(tmp_path, "c.csv", contracts_csv(contract("A"))))])
        result = cli.invoke(app, ["run", "mtm", "--in-process", "--as-of", "2026-11-20", "--json"])
        run = json.loads(result.stdout)
        assert (result.exit_code, run["status"], run["counts"]["exceptions"]) == (5, "completed_with_exceptions", 1)

    @pytest.mark.parametrize(
        "args, message",
        [
            (["run", "nightly", "--in-process", "--as-of", "20-11-2026"], "expected YYYY-MM-DD"),
            (["run", "nightly", "--in-process", "--as-of", "2999-01-01"], "is after today"),
        ],
    )
    def test_bad_dates_are_refused(self, cli: CliRunner, args: list[str], message: str) -> None:
        result = cli.invoke(app, args)
        assert result.exit_code == 2 and message in result.output


class TestLoadEcb:
    def test_load_prices_source_ecb_without_a_file_loads_the_shipped_history(
        self, cli: CliRunner, db_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv(
            "HEDGEOPS_PRICE_SOURCES",
            json.dumps([{"name": "ecb", "kind": "ecb_file", "symbols": ["EUR*"], "currencies": ["CHF"]}]),
        )
        first = cli.invoke(app, ["load", "prices", "--source", "ecb"])
        again = cli.invoke(app, ["load", "prices", "--source", "ecb"])
        with session_factory(db_url)() as s:
            stored = s.scalar(select(func.count()).select_from(SettlementPrice))
            symbols = set(s.scalars(select(SettlementPrice.symbol).distinct()))
        assert first.exit_code == 0 and again.exit_code == 0
        assert f"eurofxref-hist.zip: {stored} created, 0 existing" in first.output
        assert f"0 created, {stored} existing" in again.output
        assert symbols == {"EURCHF"} and stored > 6000  # one CHF rate per TARGET day since 4 Jan 1999

    def test_an_unknown_source_is_refused(self, cli: CliRunner) -> None:
        result = cli.invoke(app, ["load", "prices", "--source", "bloomberg"])
        assert result.exit_code == 2 and "no such price source" in result.output


def test_the_effectiveness_step_runs_and_backfills_on_its_own(cli: CliRunner) -> None:
    ran = cli.invoke(app, ["run", "effectiveness", "--in-process", "--as-of", "2026-11-20", "--json"])
    assert ran.exit_code == 0, ran.output
    run = json.loads(ran.stdout)
    assert (run["job"], run["status"], run["counts"]["processed"]) == ("effectiveness", "succeeded", 0)
    plan = cli.invoke(
        app,
        [
            "backfill",
            "effectiveness",
            "--in-process",
            "--from",
            "2026-11-19",
            "--to",
            "2026-11-20",
            "--dry-run",
            "--json",
        ],
    )
    assert [(p["as_of"], p["run"]) for p in json.loads(plan.stdout)] == [("2026-11-19", True), ("2026-11-20", False)]
