"""The MT5 commands on a real database, embedded (the simulator from a scenario file):
accounts, expected positions, `run mt5-sync`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from core.mt5 import constants as c
from db.engine import session_factory
from db.mt5.models import ExpectedPosition, Mt5Account
from tests.mt5 import PASSWORD, SYMBOLS, account, deal, position
from workers.cli import app

SCENARIO = {
    "symbols": SYMBOLS,
    "accounts": [
        account(
            5001,
            positions=[position(1001), position(1002, price_open=1.0852)],
            deals=[deal(9003, 1003, c.DEAL_REASON_SO, 1.07, profit=-150.0)],
        ),
        account(5002, terminal="t2"),
    ],
}
HEADER = "login,signal_id,approval_id,symbol,direction,volume,entry_price,sl,tp,magic,ticket\n"


@pytest.fixture
def cli(embedded_cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps(SCENARIO))
    monkeypatch.setenv("HEDGEOPS_MT5_SCENARIO", str(scenario))
    monkeypatch.setenv("MT5_PW", PASSWORD)
    return embedded_cli


def add(cli: CliRunner, login: int, terminal: str = "t1", *more: str) -> object:
    return cli.invoke(
        app,
        [
            "mt5",
            "accounts",
            "add",
            "--login",
            str(login),
            "--server",
            "Sim-Demo",
            "--terminal",
            terminal,
            "--currency",
            "USD",
            "--credential",
            "env:MT5_PW",
            "--magic",
            "7",
            *more,
        ],
    )


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "expected.csv"
    path.write_text(text)
    return str(path)


class TestAccounts:
    def test_add_twice_then_list(self, cli: CliRunner) -> None:
        first, again = add(cli, 5001), add(cli, 5001)
        listed = cli.invoke(app, ["mt5", "accounts", "list", "--json"])

        assert first.exit_code == 0 and "added" in first.output  # type: ignore[attr-defined]
        assert again.exit_code == 0 and "already there, unchanged" in again.output  # type: ignore[attr-defined]
        assert json.loads(listed.stdout) == [
            {
                "login": 5001,
                "server": "Sim-Demo",
                "terminal": "t1",
                "currency": "USD",
                "policy": "default",
                "enabled": True,
                "magic_numbers": [7],
                "credential_ref": "env:MT5_PW",
                "peak_equity": None,
            }
        ]

    def test_other_values_for_an_account_are_refused(self, cli: CliRunner, db_url: str) -> None:
        add(cli, 5001)
        moved = add(cli, 5001, "t2")

        assert moved.exit_code == 2 and "exists with other terminal" in moved.output  # type: ignore[attr-defined]
        with session_factory(db_url)() as s:
            assert s.scalars(select(Mt5Account.terminal)).all() == ["t1"]

    def test_a_password_is_never_taken_nor_repeated(self, cli: CliRunner, db_url: str) -> None:
        result = cli.invoke(
            app,
            [
                "mt5",
                "accounts",
                "add",
                "--login",
                "5001",
                "--server",
                "S",
                "--terminal",
                "t1",
                "--currency",
                "USD",
                "--credential",
                "hunter2",
            ],
        )

        assert result.exit_code == 2
        assert "env:NAME or file:/absolute/path" in result.output and "hunter2" not in result.output
        with session_factory(db_url)() as s:
            assert s.scalars(select(Mt5Account)).all() == []


class TestExpectedPositions:
    def test_load_reload_and_a_ticket_that_became_known(self, cli: CliRunner, tmp_path: Path, db_url: str) -> None:
        add(cli, 5001)
        rows = "5001,SIG-1,APR-1,EURUSD,buy,0.10,1.08500,1.08000,,7,{ticket}\n"
        first = cli.invoke(app, ["load", "expected-positions", write(tmp_path, HEADER + rows.format(ticket=""))])
        again = cli.invoke(app, ["load", "expected-positions", write(tmp_path, HEADER + rows.format(ticket=""))])
        known = cli.invoke(app, ["load", "expected-positions", write(tmp_path, HEADER + rows.format(ticket="1001"))])

        assert "1 created, 0 existing, 0 ticket assigned" in first.output
        assert "0 created, 1 existing, 0 ticket assigned" in again.output
        assert "0 created, 0 existing, 1 ticket assigned" in known.output
        with session_factory(db_url)() as s:
            assert s.scalars(select(ExpectedPosition.ticket)).all() == [1001]

    def test_any_other_change_or_an_unknown_account_refuses_the_file(
        self, cli: CliRunner, tmp_path: Path, db_url: str
    ) -> None:
        add(cli, 5001)
        cli.invoke(
            app,
            ["load", "expected-positions", write(tmp_path, HEADER + "5001,SIG-1,,EURUSD,buy,0.10,1.085,,,7,1001\n")],
        )
        text = (
            HEADER + "5001,SIG-1,,EURUSD,buy,0.20,1.085,,,7,1001\n" + "5001,SIG-2,,EURUSD,buy,0.1,1.085,,,7,\n"
            "9999,SIG-3,,EURUSD,buy,0.1,1.085,,,7,\n"
        )

        result = cli.invoke(app, ["load", "expected-positions", write(tmp_path, text)])

        assert result.exit_code == 2
        assert "expected.csv:2: signal SIG-1: volume changed" in result.output
        assert "expected.csv:4: login 9999: no such account" in result.output
        with session_factory(db_url)() as s:
            assert s.scalars(select(ExpectedPosition.signal_id)).all() == ["SIG-1"]  # SIG-2 did not land


class TestRunMt5Sync:
    def test_every_terminal_is_synced_and_its_divergences_counted(self, cli: CliRunner, tmp_path: Path) -> None:
        add(cli, 5001), add(cli, 5002, "t2")
        cli.invoke(
            app,
            [
                "load",
                "expected-positions",
                write(
                    tmp_path,
                    HEADER
                    + "5001,SIG-1,,EURUSD,buy,0.10,1.08500,,,7,1001\n5001,SIG-3,,EURUSD,buy,0.10,1.085,,,7,1003\n",
                ),
            ],
        )

        result = cli.invoke(app, ["run", "mt5-sync", "--in-process", "--json"])

        assert result.exit_code == 0, result.output
        cycles = json.loads(result.stdout)
        assert [(c["terminal"], c["status"], c["accounts"]) for c in cycles] == [
            ("t1", "succeeded", 1),
            ("t2", "succeeded", 1),
        ]
        # 1001 matched; 1002 opened 20 points from nothing expected: unknown; 1003 stopped out
        assert cycles[0]["divergences"] == {"stop_out": 1, "unknown_position": 1}
        # processed counts accounts (1), created the rows written (a snapshot and 3 reconciliation rows)
        assert cycles[0]["counts"] == {"processed": 1, "created": 4, "existing": 0, "conflicts": 0, "exceptions": 0}

    def test_one_account(self, cli: CliRunner) -> None:
        add(cli, 5001), add(cli, 5002, "t2")

        result = cli.invoke(app, ["run", "mt5-sync", "--in-process", "--account", "5002", "--json"])

        assert [c["terminal"] for c in json.loads(result.stdout)] == ["t2"]

    def test_a_failed_account_exits_1_and_no_account_exits_2(
        self, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        none = cli.invoke(app, ["run", "mt5-sync", "--in-process"])
        add(cli, 5001)
        monkeypatch.setenv("MT5_PW", "not the password")
        failed = cli.invoke(app, ["run", "mt5-sync", "--in-process", "--json"])

        assert none.exit_code == 2 and "no enabled MT5 account" in none.output
        assert failed.exit_code == 1
        assert json.loads(failed.stdout)[0]["error"] == (
            "1 account(s) failed to sync: login 5001: login failed: authorization_failed (-6, Terminal: "
            "Authorization failed)"
        )

    def test_other_jobs_still_need_a_date(self, cli: CliRunner) -> None:
        result = cli.invoke(app, ["run", "mtm", "--in-process"])

        assert result.exit_code == 2 and "mtm needs --as-of YYYY-MM-DD" in result.output
