"""Modes are explicit (issue 20, point 1): in-process work only on the embedded SQLite file or
with `--in-process`; a server database without a broker, a broker without a database URL and
`--in-process` beside a broker are each refused with one line naming both settings, exit 2,
nothing created, written or sent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from db.engine import session_factory
from db.models import BatchRun
from workers.cli import app

AS_OF = "2026-11-20"


def one_line(result: Any) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def runs_in(url: str) -> int:
    with session_factory(url)() as s:
        return int(s.scalar(select(func.count()).select_from(BatchRun)) or 0)


@pytest.fixture
def server_cli(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """PostgreSQL, no broker."""
    monkeypatch.setenv("HEDGEOPS_DATABASE_URL", pg_url)
    monkeypatch.setenv("HEDGEOPS_PRICE_DROP_DIR", str(tmp_path))
    monkeypatch.setenv("HEDGEOPS_DROP_SETTLE_SECONDS", "0")
    monkeypatch.delenv("HEDGEOPS_BROKER_URL", raising=False)
    monkeypatch.setenv("HEDGEOPS_LOG_LEVEL", "WARNING")
    return CliRunner()


class TestServerDatabaseWithoutBroker:
    @pytest.mark.parametrize(
        "args",
        [
            ["run", "nightly", "--as-of", AS_OF, "--json"],
            ["run", "mt5-sync"],
            ["backfill", "mtm", "--from", "2026-11-19", "--to", AS_OF],
        ],
    )
    def test_is_refused_naming_both_settings(self, server_cli: CliRunner, pg_url: str, args: list[str]) -> None:
        result = server_cli.invoke(app, args)
        assert result.exit_code == 2
        line = one_line(result)
        assert line.startswith("hedgeops: HEDGEOPS_DATABASE_URL is a server database but HEDGEOPS_BROKER_URL")
        assert "--in-process" in line
        assert runs_in(pg_url) == 0

    def test_the_json_object_says_why(self, server_cli: CliRunner) -> None:
        result = server_cli.invoke(app, ["run", "nightly", "--as-of", AS_OF, "--json"])
        body = json.loads(result.stdout)
        assert (body["status"], body["batch_run_id"]) == ("error", None)
        assert "HEDGEOPS_BROKER_URL" in body["error"]

    def test_in_process_runs_it_here(self, server_cli: CliRunner, pg_url: str) -> None:
        result = server_cli.invoke(app, ["run", "nightly", "--in-process", "--as-of", AS_OF, "--json"])
        assert json.loads(result.stdout)["status"] == "succeeded", result.output  # no contracts: nothing missing
        assert runs_in(pg_url) == 5  # the nightly and its four steps (prices, mtm, effectiveness, postings)

    def test_reading_commands_need_no_flag(self, server_cli: CliRunner) -> None:
        assert server_cli.invoke(app, ["status", "--json"]).exit_code == 0


class TestBrokerWithoutDatabase:
    @pytest.mark.parametrize("args", [["status"], ["run", "nightly", "--as-of", AS_OF], ["db", "upgrade"]])
    def test_is_refused_and_nothing_is_created(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
    ) -> None:
        monkeypatch.chdir(tmp_path)
        monkeypatch.delenv("HEDGEOPS_DATABASE_URL", raising=False)
        monkeypatch.setenv("HEDGEOPS_BROKER_URL", "redis://127.0.0.1:6379/13")
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2
        assert one_line(result).startswith("hedgeops: HEDGEOPS_BROKER_URL is set but HEDGEOPS_DATABASE_URL is not")
        assert list(tmp_path.iterdir()) == []  # no ./var/hedgeops.db


def test_in_process_beside_a_broker_is_refused(server_cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEDGEOPS_BROKER_URL", "redis://127.0.0.1:1/0")
    result = server_cli.invoke(app, ["run", "mtm", "--in-process", "--as-of", AS_OF])
    assert result.exit_code == 2
    assert one_line(result).startswith("hedgeops: --in-process runs the work in this process but HEDGEOPS_BROKER_URL")


def test_the_embedded_sqlite_file_runs_in_process_without_a_flag(
    server_cli: CliRunner, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEDGEOPS_DATABASE_URL", sqlite_url)
    result = server_cli.invoke(app, ["run", "mtm", "--as-of", AS_OF, "--json"])
    assert json.loads(result.stdout)["status"] == "succeeded", result.output
