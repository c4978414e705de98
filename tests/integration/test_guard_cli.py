"""`hedgeops guard status` and `guard reset` on the embedded default, with the simulated
broker remembering across CLI calls (its state file): two syncs trip the account (peak
10000.00, then 8900.00: (10000 - 8900) / 10000 * 100 = 11 % >= 10 %)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from db.engine import session_factory
from db.models import AuditEvent
from tests.mt5 import PASSWORD, SYMBOLS, account, position
from workers.cli import app


@pytest.fixture
def close_answers() -> dict[str, list[str]]:
    """Scripted answers to the closes, by ticket (none: every close fills)."""
    return {}


@pytest.fixture
def cli(
    embedded_cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, close_answers: dict[str, list[str]]
) -> CliRunner:
    positions = [position(88812), position(88813)]
    spec = account(5001, equity=[10000.0, 8900.0], positions=positions, close_answers=close_answers)
    scenario = {"symbols": SYMBOLS, "accounts": [spec]}
    (tmp_path / "scenario.json").write_text(json.dumps(scenario))
    monkeypatch.setenv("HEDGEOPS_MT5_SCENARIO", str(tmp_path / "scenario.json"))
    monkeypatch.setenv("HEDGEOPS_MT5_SIMULATOR_STATE", str(tmp_path / "broker.json"))
    monkeypatch.setenv("MT5_PW", PASSWORD)
    added = embedded_cli.invoke(
        app,
        [
            "mt5",
            "accounts",
            "add",
            "--login",
            "5001",
            "--server",
            "Sim-Demo",
            "--terminal",
            "t1",
            "--currency",
            "USD",
            "--credential",
            "env:MT5_PW",
            "--magic",
            "7",
        ],
    )
    assert added.exit_code == 0, added.output
    return embedded_cli


def status(cli: CliRunner) -> dict[str, object]:
    shown = cli.invoke(app, ["guard", "status", "--json"])
    assert shown.exit_code == 0, shown.output
    return dict(json.loads(shown.stdout.splitlines()[0]))


def test_a_tripped_account_shows_in_status_and_is_reset_with_an_audit(
    cli: CliRunner, db_url: str, tmp_path: Path
) -> None:
    assert status(cli)["state"] == "unguarded"
    for _ in range(2):
        assert cli.invoke(app, ["run", "mt5-sync", "--in-process"]).exit_code == 0

    tripped = status(cli)
    assert (tripped["state"], tripped["episode"], tripped["drawdown_pct"], tripped["peak_equity"]) == (
        "tripped",
        1,
        "11.0000",
        "10000.00",
    )
    broker = json.loads((tmp_path / "broker.json").read_text())
    assert sorted(o["request"]["position"] for o in broker["orders"] if o["filled"]) == [88812, 88813]

    reset = cli.invoke(app, ["guard", "reset", "5001", "--by", "alice", "--reason", "reviewed"])
    assert reset.exit_code == 0 and "armed" in reset.stdout, reset.output
    assert status(cli)["state"] == "armed"
    with session_factory(db_url)() as s:
        assert s.scalars(select(AuditEvent.actor).where(AuditEvent.event_type == "guard_reset")).all() == ["alice"]


@pytest.mark.parametrize("close_answers", [{"88812": ["market_closed"]}])
def test_status_with_open_intents_shows_them(cli: CliRunner) -> None:
    """88812's market is closed at the execution: its intent stays open (waiting_market).
    Before, `guard status` read the intents' rows after its unit of work had ended and died
    with DetachedInstanceError (exit 1) whenever one was open."""
    for _ in range(2):
        assert cli.invoke(app, ["run", "mt5-sync", "--in-process"]).exit_code == 0
    shown = status(cli)
    assert (shown["state"], shown["pending_intents"]) == ("tripped", 1)
    plain = cli.invoke(app, ["guard", "status"])
    assert plain.exit_code == 0 and "5001" in plain.stdout, plain.output


def test_a_reset_re_bases_the_peak_unless_told_to_keep_it(cli: CliRunner, db_url: str) -> None:
    for _ in range(2):
        cli.invoke(app, ["run", "mt5-sync", "--in-process"])
    kept = cli.invoke(app, ["guard", "reset", "5001", "--by", "alice", "--reason", "r", "--keep-peak"])
    assert kept.exit_code == 0 and "peak 10000.00" in kept.stdout, kept.output
    assert cli.invoke(app, ["run", "mt5-sync", "--in-process"]).exit_code == 0
    assert (status(cli)["state"], status(cli)["episode"]) == ("tripped", 2)  # still 11 % below the kept peak
    rebased = cli.invoke(app, ["guard", "reset", "5001", "--by", "alice", "--reason", "limit reviewed"])
    assert rebased.exit_code == 0 and "peak 8900.00" in rebased.stdout, rebased.output
    assert cli.invoke(app, ["run", "mt5-sync", "--in-process"]).exit_code == 0
    after = status(cli)
    assert (after["state"], after["peak_equity"], after["drawdown_pct"]) == ("armed", "8900.00", "0.0000")
    with session_factory(db_url)() as s:
        peaks = s.scalars(select(AuditEvent.details).where(AuditEvent.event_type == "guard_reset")).all()
    assert [d["peak"] for d in peaks] == [
        {"was": "10000.00", "now": "10000.00"},
        {"was": "10000.00", "now": "8900.00"},
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["guard", "reset", "999", "--by", "a", "--reason", "r"], "hedgeops: no MT5 account with login 999"),
        (["guard", "reset", "5001", "--by", "a", "--reason", "r"], "hedgeops: account 5001 is not tripped"),
        (["guard", "reset", "5001", "--by", " ", "--reason", "r"], "hedgeops: a reset names who resets"),
    ],
)
def test_a_refused_reset_is_one_line_and_exit_2(cli: CliRunner, args: list[str], message: str) -> None:
    refused = cli.invoke(app, args)
    assert refused.exit_code == 2
    assert refused.stderr.startswith(message) and len(refused.stderr.strip().splitlines()) == 1


def test_a_bad_named_policy_is_one_line_at_start_up(embedded_cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEDGEOPS_GUARD_POLICIES", '{"tight": {"execution_pct": "12", "warning_pct": "15"}}')
    refused = embedded_cli.invoke(app, ["guard", "status"])
    assert refused.exit_code == 2
    assert "guard_policies[tight]" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1


def test_a_cycle_shows_what_the_guard_did_in_it(cli: CliRunner) -> None:
    """Issue 20's cycle 19: `divergences: unknown_position 2` while the guard closed both.
    The tripping cycle's JSON (of `run mt5-sync` and of `mt5 cycles`) now says so: the two
    close intents it made, the two closes it sent and its alerts; the first cycle did nothing."""
    first = cli.invoke(app, ["run", "mt5-sync", "--in-process", "--json"])
    second = cli.invoke(app, ["run", "mt5-sync", "--in-process", "--json"])
    assert first.exit_code == second.exit_code == 0, second.output
    [quiet], [tripping] = json.loads(first.stdout), json.loads(second.stdout)
    assert quiet["guard"] == {"close_intents": [], "closes_sent": 0, "alerts": []}
    assert tripping["divergences"] == {"unknown_position": 2}  # nothing expected: both are unknown
    guard = tripping["guard"]
    assert [(i["login"], i["ticket"], i["kind"], i["status"]) for i in guard["close_intents"]] == [
        (5001, 88812, "execution", "confirmed"),
        (5001, 88813, "execution", "confirmed"),
    ]
    assert guard["closes_sent"] == 2
    # 11 % is past the warning level (5 %) and the execution level (10 %): both in this cycle.
    assert [(a["alert_type"], a["action"], a["positions_closed"]) for a in guard["alerts"]] == [
        ("warning", "warning_sent", 0),
        ("execution", "positions_closed", 2),
    ]
    listed = cli.invoke(app, ["mt5", "cycles", "--json"])
    assert listed.exit_code == 0, listed.output
    by_id = {c["batch_run_id"]: c for c in json.loads(listed.stdout)}
    assert by_id[tripping["batch_run_id"]]["guard"] == guard
    assert by_id[quiet["batch_run_id"]]["guard"]["close_intents"] == []
    table = cli.invoke(app, ["mt5", "cycles"])
    line = f"run {tripping['batch_run_id']}: guard: close intents 5001:88812 confirmed, 5001:88813 confirmed; "
    assert line + "closes sent 2; alerts 5001 warning warning_sent, 5001 execution positions_closed" in table.stdout
