"""`hedgeops guard replay` over a history stored by real syncs of a simulated account (SQLite
and PostgreSQL): the events a hand-computed table expects, with the default policy and with
a policy file; and its errors, one line on stderr with exit 2.

The history (the simulator's equity path, one sync per step, the clock set to each time;
balance 10000.00 throughout). drawdown % = (peak - equity) / peak * 100, peak = the highest
equity so far in the window; day loss % = (anchor - equity) / anchor * 100, anchor = the
balance of the day's first reading (10000.00):

| step | synced at (UTC)     | equity   | peak     | drawdown %                     | day loss %                   |
| ---- | ------------------- | -------- | -------- | ------------------------------ | ---------------------------- |
| 0    | 2026-03-01 23:00    | 12000.00 | outside the window (--from 2026-03-02): never the peak                |
| 1    | 2026-03-02 10:00    | 10000.00 | 10000.00 | 0                              | 0                            |
| 2    | 2026-03-02 10:05    | 10400.00 | 10400.00 | 0                              | -4                           |
| 3    | 2026-03-02 10:10    |  9828.00 | 10400.00 | 572 / 10400 * 100 = 5.5        | 172 / 10000 * 100 = 1.72     |
| 4    | 2026-03-02 10:15    | (account_info fails: an error snapshot, left out)                     |
| 5    | 2026-03-02 10:20    | 10010.00 | 10400.00 | 390 / 10400 * 100 = 3.75       | -0.1                         |
| 6    | 2026-03-02 10:25    |  9360.00 | 10400.00 | 1040 / 10400 * 100 = 10        | 640 / 10000 * 100 = 6.4      |
| 7    | 2026-03-02 10:30    |  9000.00 | 10400.00 | 1400 / 10400 * 100 = 13.4615.. | 10                           |
| 8    | 2026-03-03 00:00    |  5000.00 | outside the window (--to 2026-03-02 ends at 03-03 00:00, excluded)    |
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from core.mt5 import constants as c
from db.mt5.models import PositionSnapshot
from tests.fakes import Clock
from tests.mt5 import Mt5World, account, world  # noqa: F401 - fixture
from workers.cli import app

UTC = UTC
STEPS = (
    [(datetime(2026, 3, 1, 23, 0, tzinfo=UTC), 12000.0)]
    + [
        (datetime(2026, 3, 2, 10, 5 * i, tzinfo=UTC), equity)
        for i, equity in enumerate([10000.0, 10400.0, 9828.0, 9999.0, 10010.0, 9360.0, 9000.0])
    ]
    + [(datetime(2026, 3, 3, 0, 0, tzinfo=UTC), 5000.0)]
)
FAILS = {
    "call": "account_info",
    "code": c.RES_E_INTERNAL_FAIL_TIMEOUT,
    "message": "IPC timeout",
    "times": 1,
    "from_step": 4,
}
WINDOW = ["--account", "5001", "--from", "2026-03-02", "--to", "2026-03-02"]


def ev(
    minute: int,
    kind: str,
    drawdown: str | None,
    day_loss: str | None,
    equity: str,
    episode: int = 0,
    reasons: tuple[str, ...] = (),
) -> dict[str, Any]:
    return {
        "at": f"2026-03-02T10:{minute:02d}:00+00:00",
        "kind": kind,
        "drawdown_pct": drawdown,
        "day_loss_pct": day_loss,
        "equity": equity,
        "episode": episode,
        "reasons": list(reasons),
    }


#: The settings' defaults (warning 5, execution 10, hysteresis 1: re-arm below 4; no daily limit).
DEFAULTS = [
    ev(10, "warning", "5.5000", None, "9828.00"),
    ev(20, "rearmed", "3.7500", None, "10010.00"),  # 3.75 < 5 - 1
    ev(25, "warning", "10.0000", None, "9360.00", 1),  # armed again: a warning with the execution
    ev(25, "execution", "10.0000", None, "9360.00", 1, ("drawdown",)),
]  # then latched: 10:30 adds nothing
#: A policy file: warning 3 (re-arm below 2.5), execution 20, daily loss 6 % of the balance at
#: the day's first reading, the day starting 00:00 UTC, readings up to a day after it anchor it.
TUNED = {
    "warning_pct": "3",
    "execution_pct": 20,
    "hysteresis_pct": "0.5",
    "daily_loss_pct": 6,
    "daily_basis": "balance",
    "day_start": "00:00",
    "day_start_tz": "UTC",
    "max_sync_age_s": 86400,
}
TUNED_EVENTS = [
    ev(10, "warning", "5.5000", "1.7200", "9828.00"),  # 3.75 at 10:20 is not below 2.5
    ev(25, "execution", "10.0000", "6.4000", "9360.00", 1, ("daily_loss",)),
]  # 6.4 >= 6; 10 < 20
#: The same daily limit with max_sync_age_s 120: the first reading, 10 h after the boundary,
#: cannot anchor the day and there are no deals to rebuild it: the day is drawdown only.
UNKNOWN_DAY = {"daily_loss_pct": 6, "day_start": "00:00", "day_start_tz": "UTC"}
UNKNOWN_EVENTS = [ev(0, "day_start_unknown", "0.0000", None, "10000.00"), *DEFAULTS]


@pytest.fixture
def cli(embedded_cli: CliRunner, world: Mt5World, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The history above, stored by syncs, and a CLI over the same database."""
    for name, value in {
        "WARNING_PCT": "5",
        "EXECUTION_PCT": "10",
        "HYSTERESIS_PCT": "1",
        "ENABLED": "true",
        "MODE": "enforce",
        "CONFIRM_SYNCS": "1",
    }.items():
        monkeypatch.setenv(f"HEDGEOPS_GUARD_{name}", value)
    monkeypatch.delenv("HEDGEOPS_GUARD_DAILY_LOSS_PCT", raising=False)
    monkeypatch.setenv("COLUMNS", "160")  # the table's rows on one line each
    world.add(account(5001, equity=[e for _, e in STEPS], faults=[FAILS]))
    world.start()
    for when, _ in STEPS:
        clock.now = when
        world.sync()
    return embedded_cli


def stored(world: Mt5World) -> list[tuple[Any, ...]]:
    p = PositionSnapshot
    return [tuple(r) for r in world.rows(select(p.synced_at, p.equity, p.error_kind).order_by(p.id))]


def replay(cli: CliRunner, *args: str) -> Any:
    return cli.invoke(app, ["guard", "replay", *args])


class TestReplay:
    def test_the_history_is_stored_as_the_table_says(self, cli: CliRunner, world: Mt5World) -> None:
        rows = stored(world)
        assert len(rows) == 9 and rows[4][1:] == (None, "ipc_timeout")
        assert [str(e) for _, e, _ in rows[1:4]] == ["10000.00", "10400.00", "9828.00"]

    @pytest.mark.parametrize(
        ("policy", "expected"),
        [(None, DEFAULTS), (TUNED, TUNED_EVENTS), (UNKNOWN_DAY, UNKNOWN_EVENTS)],
        ids=["defaults", "tuned", "day start unknown"],
    )
    def test_json_gives_the_hand_computed_events(
        self, cli: CliRunner, tmp_path: Path, policy: dict[str, Any] | None, expected: list[Any]
    ) -> None:
        more: list[str] = []
        if policy is not None:
            (tmp_path / "policy.json").write_text(json.dumps(policy))
            more = ["--policy", str(tmp_path / "policy.json")]
        result = replay(cli, *WINDOW, *more, "--json")
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert report["events"] == expected
        assert (report["login"], report["readings"], report["from"], report["to"]) == (
            5001,
            6,
            "2026-03-02",
            "2026-03-02",
        )

    def test_a_wider_window_takes_the_earlier_peak(self, cli: CliRunner) -> None:
        """From 03-01 the peak is 12000: 10400 is (12000 - 10400) / 12000 * 100 = 13.3333 % down,
        the first reading of 03-02, 10000, already (12000 - 10000) / 12000 * 100 = 16.6667 %:
        a warning and the execution there. 03-03 00:00 (5000) is inside the window now, latched."""
        result = replay(cli, "--account", "5001", "--from", "2026-03-01", "--to", "2026-03-03", "--json")
        report = json.loads(result.stdout)
        assert report["readings"] == 8
        assert report["events"] == [
            ev(0, "warning", "16.6667", None, "10000.00", 1),
            ev(0, "execution", "16.6667", None, "10000.00", 1, ("drawdown",)),
        ]

    def test_the_table(self, cli: CliRunner) -> None:
        result = replay(cli, *WINDOW)
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert lines[0] == (
            "account 5001@Sim-Demo, 2026-03-02 to 2026-03-02: 6 snapshot(s), 4 event(s); "
            "policy: warning 5%, execution 10%, daily loss off, mode enforce"
        )
        rows = [line for line in lines if "2026-03-02 10:" in line]
        assert [[cell.strip() for cell in line.strip("│ ").split("│")][:5] for line in rows] == [
            ["2026-03-02 10:10:00", "warning", "5.5000", "-", "9828.00"],
            ["2026-03-02 10:20:00", "rearmed", "3.7500", "-", "10010.00"],
            ["2026-03-02 10:25:00", "warning", "10.0000", "-", "9360.00"],
            ["2026-03-02 10:25:00", "execution", "10.0000", "-", "9360.00"],
        ]

    def test_nothing_is_written(self, cli: CliRunner, world: Mt5World) -> None:
        from db.mt5.guard_models import CloseIntent, DrawdownAlert, GuardStateRow, Notification

        replay(cli, *WINDOW)
        for table in (GuardStateRow, CloseIntent, DrawdownAlert, Notification):
            assert world.rows(select(table.id)) == []


class TestErrors:
    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--account", "4999", "--from", "2026-03-02", "--to", "2026-03-02"], "no MT5 account with login 4999"),
            (
                ["--account", "5001", "--from", "2026-02-30", "--to", "2026-03-02"],
                "--from '2026-02-30': expected YYYY-MM-DD",
            ),
            (["--account", "5001", "--from", "2026-03-02", "--to", "tomorrow"], "--to 'tomorrow': expected YYYY-MM-DD"),
            (
                ["--account", "5001", "--from", "2026-03-03", "--to", "2026-03-02"],
                "--from 2026-03-03 is after --to 2026-03-02",
            ),
            ([*WINDOW, "--policy", "/nonexistent/policy.json"], "/nonexistent/policy.json: no such file"),
        ],
    )
    def test_bad_input(self, cli: CliRunner, args: list[str], message: str) -> None:
        result = replay(cli, *args)
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr == f"hedgeops: {message}\n"

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("{not json", "not JSON (Expecting property name enclosed in double quotes at line 1 column 2)"),
            ("[1, 2]", "expected a JSON object of guard policy fields"),
            (
                '{"execution_pct": 5, "warning_pct": 8}',
                "invalid guard policy: policy: Value error, warning_pct must not be above execution_pct",
            ),
            ('{"execution_pct": 150}', "invalid guard policy: execution_pct: Input should be less than 100"),
            ('{"threshold": 5}', "unknown guard policy field(s): threshold"),
        ],
    )
    def test_bad_policy_file(self, cli: CliRunner, tmp_path: Path, text: str, message: str) -> None:
        path = tmp_path / "policy.json"
        path.write_text(text)
        result = replay(cli, *WINDOW, "--policy", str(path))
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr in (f"hedgeops: {path}: {message}\n", f"hedgeops: {message}\n")
