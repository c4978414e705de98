"""Operations, embedded on SQLite and PostgreSQL: outcomes that say the truth, the monitor's
check (freezegun for its deadline), the late-nightly alert, the run views, and one-line
errors for the user's mistakes (one line on stderr, the documented exit code, nothing
written)."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import UTC, date
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select
from typer.testing import CliRunner

from db.engine import session_factory
from db.models import AuditEvent, BatchRun, HedgeContract
from tests.builders import contract, contracts_csv, prices_csv
from workers.cli import app

AS_OF = "2026-11-20"
D1 = "2026-11-19"
#: HEDGEOPS_NIGHTLY_AT 22:30 + 120 minutes: the nightly of 20 Nov is late from 21 Nov 00:30 UTC.
BEFORE_DEADLINE, AFTER_DEADLINE = "2026-11-21 00:29:00", "2026-11-21 00:31:00"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def cli(embedded_cli: CliRunner, tmp_path: Path) -> CliRunner:
    """The embedded CLI with one LME-AL contract loaded."""
    result = embedded_cli.invoke(
        app, ["load", "contracts", str(write(tmp_path, "c.csv", contracts_csv(contract("A"))))]
    )
    assert result.exit_code == 0, result.output
    return embedded_cli


def drop_price(tmp_path: Path) -> None:
    write(tmp_path / "incoming", "p.csv", prices_csv(("LME-AL", D1, "2563.50")))


def nightly(cli: CliRunner) -> tuple[int, dict[str, Any]]:
    result = cli.invoke(app, ["run", "nightly", "--in-process", "--as-of", AS_OF, "--json"])
    return result.exit_code, json.loads(result.stdout)


def check(cli: CliRunner, *args: str) -> tuple[int, str]:
    result = cli.invoke(app, ["check", "nightly", "--as-of", AS_OF, *args])
    return result.exit_code, result.stdout.strip()


class TestOutcomes:
    def test_a_nightly_without_its_prices_completes_with_exceptions(self, cli: CliRunner) -> None:
        code, run = nightly(cli)  # the vendor file never arrived
        assert (code, run["status"], run["price_missing"]) == (5, "completed_with_exceptions", 1)
        assert run["counts"]["exceptions"] == 1  # the MTM exception: price_unavailable

    def test_a_nightly_with_everything_succeeds(self, cli: CliRunner, tmp_path: Path) -> None:
        drop_price(tmp_path)
        code, run = nightly(cli)
        assert (code, run["status"], run["price_missing"]) == (0, "succeeded", 0)

    def test_a_failing_source_is_its_own_failure_and_the_others_run(self, runtime: Any, price_source: Any) -> None:
        from core.values import Job
        from tasks.loading import load_contracts_csv
        from tasks.prices import fetch_settlement_prices

        class BrokenSource:
            name = "optional_http"

            def fetch(self, as_of: date, wanted: Any) -> Any:
                raise ConnectionRefusedError("vendor endpoint down")

            def acknowledge(self, batch: Any) -> None:
                raise AssertionError("nothing to acknowledge")

        load_contracts_csv(contracts_csv(contract("A")), "c.csv")
        price_source.add("p.csv", prices_csv(("LME-AL", D1, "2563.50")))
        object.__setattr__(runtime, "price_sources", [BrokenSource(), price_source])
        run = fetch_settlement_prices.apply_async(kwargs={"as_of": AS_OF}).get()
        assert (run["job"], run["status"], run["failed_sources"]) == (
            Job.PRICES.value,
            "completed_with_exceptions",
            ["optional_http"],
        )
        assert (run["counts"]["created"], run["counts"]["exceptions"], run["price_missing"]) == (1, 1, 0)


class TestCheck:
    @freeze_time(AFTER_DEADLINE)
    def test_succeeded_is_ok(self, cli: CliRunner, tmp_path: Path) -> None:
        drop_price(tmp_path)
        nightly(cli)
        code, line = check(cli)
        assert code == 0 and line.startswith("NIGHTLY OK - nightly 2026-11-20")

    @freeze_time(AFTER_DEADLINE)
    def test_a_missing_required_price_is_critical_whatever_the_allowance(self, cli: CliRunner) -> None:
        # Was WARNING, and OK with --max-exceptions 2 (issue 20: missing prices are counted apart, CRITICAL).
        nightly(cli)
        code, line = check(cli, "--max-exceptions", "2")
        assert code == 2 and "no D-1 price for a required symbol (LME-AL)" in line, line
        assert "exceptions=1 price_missing=1 unvalued=1/1" in line

    @freeze_time(AFTER_DEADLINE)
    def test_exceptions_of_few_contracts_are_a_warning_unless_allowed(
        self, embedded_cli: CliRunner, tmp_path: Path
    ) -> None:
        book = [contract(f"C{i}") for i in range(9)] + [contract("EUR", currency="EUR")]  # 1 of 10 unvalued
        embedded_cli.invoke(app, ["load", "contracts", str(write(tmp_path, "c.csv", contracts_csv(*book)))])
        drop_price(tmp_path)
        assert nightly(embedded_cli)[1]["status"] == "completed_with_exceptions"
        code, line = check(embedded_cli)
        assert code == 1 and "exceptions=1 price_missing=0 unvalued=1/10" in line, line
        assert check(embedded_cli, "--max-exceptions", "1")[0] == 0
        body = json.loads(check(embedded_cli, "--json")[1])
        assert (body["exceptions"], body["price_missing"], body["unvalued_contracts"]) == (1, 0, 1)

    @freeze_time(AFTER_DEADLINE)
    def test_more_than_the_share_of_unvalued_contracts_is_critical(
        self, embedded_cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        book = [contract(f"C{i}") for i in range(8)] + [contract(f"E{i}", currency="EUR") for i in range(2)]
        embedded_cli.invoke(app, ["load", "contracts", str(write(tmp_path, "c.csv", contracts_csv(*book)))])
        drop_price(tmp_path)
        nightly(embedded_cli)
        code, line = check(embedded_cli, "--max-exceptions", "5")
        assert code == 2 and "20.0% of active contracts unvalued (more than 10%)" in line, line
        monkeypatch.setenv("HEDGEOPS_CHECK_MAX_UNVALUED_PCT", "25")
        assert check(embedded_cli, "--max-exceptions", "5")[0] == 0

    @freeze_time(BEFORE_DEADLINE)
    def test_failed_is_critical(self, cli: CliRunner, db_url: str) -> None:
        from core.values import Trigger
        from db import ledger

        with session_factory(db_url)() as s:
            from datetime import datetime, timedelta

            now = datetime.now(UTC)
            run = ledger.start_run(
                s, "nightly", date(2026, 11, 20), Trigger.BEAT, now=now, stale_after=timedelta(hours=1)
            ).run
            ledger.finish_run(s, run, now, error="step prices (batch run 2) failed: boom")
            s.commit()
        code, line = check(cli)
        assert code == 2 and "failed: step prices" in line

    @pytest.mark.parametrize(("now", "expected"), [(BEFORE_DEADLINE, 0), (AFTER_DEADLINE, 2)])
    def test_a_missing_nightly_is_critical_only_after_its_deadline(
        self, cli: CliRunner, now: str, expected: int
    ) -> None:
        with freeze_time(now):
            code, line = check(cli)
        assert code == expected, line

    @freeze_time(AFTER_DEADLINE)
    def test_json_and_the_default_date(self, cli: CliRunner) -> None:
        result = cli.invoke(app, ["check", "nightly", "--json"])
        body = json.loads(result.stdout)
        assert (result.exit_code, body["state"], body["as_of"]) == (2, "CRITICAL", "2026-11-20")

    def test_a_ledger_that_cannot_be_read_is_unknown(
        self, embedded_cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("HEDGEOPS_DATABASE_URL", f"sqlite:///{tmp_path}/none.db")
        result = embedded_cli.invoke(app, ["check", "nightly"])
        assert result.exit_code == 3 and result.stdout.startswith("NIGHTLY UNKNOWN - no database")


class RecordingNotifier:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, object]]] = []

    def notify(self, kind: str, message: str, details: dict[str, object]) -> None:
        self.sent.append((kind, message, details))


class TestFreshness:
    def test_a_late_nightly_alerts_once_per_date(self, runtime: Any, db_url: str) -> None:
        from tasks import freshness
        from tasks.ports import configure, ports, utc_now

        notifier = RecordingNotifier()
        configure(replace(runtime, notifier=notifier, clock=utc_now))
        with freeze_time(AFTER_DEADLINE):
            from tasks.freshness import check_nightly_freshness

            first = check_nightly_freshness.apply_async().get()
            again = freshness.check_date(ports(), date(2026, 11, 20))
        assert (first["alert"], first["status"], again["alert"]) == ("sent", "missing", None)
        assert [(kind, details["as_of"]) for kind, _, details in notifier.sent] == [("nightly_late", AS_OF)]
        with session_factory(db_url)() as s:
            events = s.scalars(select(AuditEvent.entity_id).where(AuditEvent.event_type == "nightly_late_alerted"))
            assert list(events) == [AS_OF]

    def test_no_alert_before_the_deadline_nor_for_a_success(self, runtime: Any) -> None:
        from tasks.freshness import check_nightly_freshness
        from tasks.ports import configure, utc_now

        notifier = RecordingNotifier()
        configure(replace(runtime, notifier=notifier, clock=utc_now))
        with freeze_time(BEFORE_DEADLINE):
            answer = check_nightly_freshness.apply_async().get()
        assert answer["as_of"] == "2026-11-19" and answer["alert"] == "sent"  # the day before was due
        with freeze_time(BEFORE_DEADLINE):
            assert check_nightly_freshness.apply_async().get()["alert"] is None  # once
        assert len(notifier.sent) == 1


class TestRunViews:
    def test_status_groups_the_steps_filters_and_fits_100_columns(self, cli: CliRunner) -> None:
        nightly(cli)
        cli.invoke(app, ["run", "mtm", "--in-process", "--as-of", "2026-11-18"])
        table = cli.invoke(app, ["status"]).stdout
        lines = table.splitlines()
        assert max(len(line) for line in lines) <= 100, table
        nightly_line = next(i for i, line in enumerate(lines) if " nightly " in line)
        assert [line.split()[1] for line in lines[nightly_line + 1 : nightly_line + 5]] == ["├", "├", "├", "└"]
        assert "completed_with_exceptions" in lines[nightly_line]
        only = json.loads(cli.invoke(app, ["status", "--json", "--job", "mtm"]).stdout)
        assert sorted(s["as_of"] for s in only) == ["2026-11-18", "2026-11-20"]
        dated = json.loads(cli.invoke(app, ["status", "--json", "--as-of", "2026-11-18"]).stdout)
        assert [(s["job"], s["as_of"]) for s in dated] == [("mtm", "2026-11-18")]
        ok = json.loads(cli.invoke(app, ["status", "--json", "--status", "succeeded"]).stdout)
        assert ok == []

    def test_runs_show_gives_chunks_exceptions_and_files(self, cli: CliRunner, tmp_path: Path) -> None:
        code, run = nightly(cli)
        view = json.loads(cli.invoke(app, ["runs", "show", str(run["batch_run_id"]), "--json"]).stdout)
        assert [s["job"] for s in view["steps"]] == ["prices", "mtm", "effectiveness", "postings"]
        mtm = json.loads(cli.invoke(app, ["runs", "show", str(view["steps"][1]["batch_run_id"]), "--json"]).stdout)
        assert mtm["exceptions_by_reason"] == [{"reason": "price_unavailable", "symbol": "LME-AL", "count": 1}]
        assert len(mtm["chunks"]) == 1
        assert view["price_missing_list"] == [{"symbol": "LME-AL", "price_date": D1}]
        missing = cli.invoke(app, ["runs", "show", "99999"])
        assert missing.exit_code == 2 and missing.stderr.strip() == "hedgeops: no batch run 99999"


def one_line(result: Any) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


class TestOneLineErrors:
    def test_status_before_db_upgrade(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.chdir(tmp_path)
        monkeypatch.delenv("HEDGEOPS_DATABASE_URL", raising=False)
        monkeypatch.delenv("HEDGEOPS_BROKER_URL", raising=False)
        result = CliRunner().invoke(app, ["status"])
        assert result.exit_code == 6
        assert one_line(result) == "hedgeops: no database at ./var/hedgeops.db: run `hedgeops db upgrade` first"
        assert not (tmp_path / "var").exists()

    def test_a_schema_less_database(self, pg_database: str, monkeypatch: pytest.MonkeyPatch) -> None:
        empty = pg_database.rsplit("/", 1)[0] + "/postgres"
        monkeypatch.setenv("HEDGEOPS_DATABASE_URL", empty)
        result = CliRunner().invoke(app, ["status"])
        assert result.exit_code == 6 and "has no schema yet" in one_line(result)

    @pytest.mark.parametrize("mistake", ["port", "name"])
    def test_a_wrong_database_url_enqueues_nothing(
        self, pg_database: str, mistake: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        wrong = (
            pg_database.replace(":5432/", ":5439/")
            if mistake == "port"
            else pg_database.rsplit("/", 1)[0] + "/no_such_db_here"
        )
        monkeypatch.setenv("HEDGEOPS_DATABASE_URL", wrong)
        monkeypatch.setenv("HEDGEOPS_BROKER_URL", "redis://127.0.0.1:6379/13")
        monkeypatch.setenv("HEDGEOPS_REDIS_KEY_PREFIX", f"t-wrongdb-{os.getpid()}:")
        result = CliRunner().invoke(app, ["run", "nightly", "--as-of", AS_OF, "--wait", "--json"])
        assert result.exit_code == 6
        assert one_line(result).startswith("hedgeops: cannot reach the database")
        assert json.loads(result.stdout)["status"] == "error"
        from tests import services

        client = services.redis_client("redis://127.0.0.1:6379/13")
        assert client.keys(f"t-wrongdb-{os.getpid()}:*") == []  # nothing sent

    @pytest.mark.parametrize("kind", ["folder", "unreadable"])
    def test_a_file_that_cannot_be_read(self, embedded_cli: CliRunner, db_url: str, tmp_path: Path, kind: str) -> None:
        path = tmp_path if kind == "folder" else write(tmp_path, "c.csv", contracts_csv(contract("A")))
        if kind == "unreadable":
            if os.geteuid() == 0:  # root reads every file: a path through a file fails to open alike (OSError)
                path = path / "inner.csv"
            else:
                path.chmod(0)
        result = embedded_cli.invoke(app, ["load", "contracts", str(path)])
        assert result.exit_code == 2
        assert one_line(result).endswith("nothing loaded")
        with session_factory(db_url)() as s:
            assert s.scalar(select(func.count()).select_from(HedgeContract)) == 0

    def test_a_broker_down(self, embedded_cli: CliRunner, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("HEDGEOPS_BROKER_URL", "redis://127.0.0.1:1/0")
        result = embedded_cli.invoke(app, ["run", "nightly", "--as-of", AS_OF, "--wait", "--json"])
        assert result.exit_code == 6
        assert one_line(result).startswith("hedgeops: cannot reach the broker or result backend redis://127.0.0.1:1/0")
        assert json.loads(result.stdout)["status"] == "error"
        with session_factory(db_url)() as s:
            assert s.scalar(select(func.count()).select_from(BatchRun)) == 0


class TestLogCorrelation:
    def test_every_line_of_a_step_names_the_parent_run_and_the_root_task(
        self, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from structlog.contextvars import merge_contextvars
        from structlog.testing import capture_logs

        from workers.logging import configure_logging

        monkeypatch.setenv("HEDGEOPS_LOG_LEVEL", "INFO")
        configure_logging("INFO", "json", force=True)
        try:
            with capture_logs(processors=[merge_contextvars]) as logs:
                code, run = nightly(cli)
        finally:
            configure_logging("WARNING", "json", force=True)
        nightly_id = run["batch_run_id"]
        steps = [e for e in logs if e.get("batch_run_id") not in (None, nightly_id)]
        assert {e["event"] for e in steps} >= {"price_missing", "mtm_chunk_written", "batch_run_finished"}
        assert [e["event"] for e in steps if e.get("parent_run_id") != nightly_id] == []
        roots = {e.get("root_task_id") for e in logs if e.get("task_id")}
        assert len(roots) == 1 and None not in roots  # the nightly's run_nightly, on every task's lines
