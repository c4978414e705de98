"""`hedgeops verify` and `hedgeops backfill` on a real database, through the CLI."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text, update
from typer.testing import CliRunner

from db.engine import session_factory
from db.models import BatchRun
from tests.builders import contract, contracts_csv, prices_csv
from workers.cli import app


@pytest.fixture
def cli(embedded_cli: CliRunner, tmp_path: Path) -> CliRunner:
    runner = embedded_cli
    book = tmp_path / "c.csv"
    book.write_text(
        contracts_csv(
            contract("A", entry_price="2500"),
            contract("B", side="sell", entry_price="2600"),
            contract("Z", underlying="LME-ZN", entry_price="2900"),
        )
    )
    assert runner.invoke(app, ["load", "contracts", str(book)]).exit_code == 0
    return runner


def drop(tmp_path: Path, name: str, *rows: tuple[str, str, str]) -> None:
    (tmp_path / "incoming" / name).write_text(prices_csv(*rows))


def verify(cli: CliRunner) -> tuple[int, dict[str, object]]:
    result = cli.invoke(app, ["verify", "--as-of", "2026-11-20", "--json"])
    return result.exit_code, json.loads(result.stdout)


class TestVerify:
    def test_a_clean_date_verifies(self, cli: CliRunner, tmp_path: Path) -> None:
        drop(tmp_path, "p.csv", ("LME-AL", "2026-11-19", "2563.50"), ("LME-ZN", "2026-11-19", "2931"))
        assert cli.invoke(app, ["run", "nightly", "--in-process", "--as-of", "2026-11-20"]).exit_code == 0
        code, report = verify(cli)
        assert (code, report["snapshots"], report["checked"], report["findings"]) == (0, 3, 3, [])

    def test_a_restated_price_is_listed_for_each_snapshot_that_used_it(self, cli: CliRunner, tmp_path: Path) -> None:
        drop(tmp_path, "p.csv", ("LME-AL", "2026-11-19", "2563.50"), ("LME-ZN", "2026-11-19", "2931"))
        cli.invoke(app, ["run", "nightly", "--in-process", "--as-of", "2026-11-20"])
        drop(tmp_path, "restated.csv", ("LME-AL", "2026-11-19", "2570.00"))
        assert cli.invoke(app, ["run", "prices", "--in-process", "--as-of", "2026-11-20"]).exit_code == 3  # conflicts
        code, report = verify(cli)
        findings = report["findings"]
        assert code == 1
        assert sorted((f["problem"], f["snapshot"].split(":")[2]) for f in findings) == [  # type: ignore[index]
            ("price_restated", "1"),
            ("price_restated", "2"),
        ]  # contracts A and B use LME-AL

    def test_a_changed_snapshot_is_found(self, cli: CliRunner, tmp_path: Path, db_url: str) -> None:
        drop(tmp_path, "p.csv", ("LME-AL", "2026-11-19", "2563.50"), ("LME-ZN", "2026-11-19", "2931"))
        cli.invoke(app, ["run", "nightly", "--in-process", "--as-of", "2026-11-20"])
        engine = create_engine(db_url)
        with engine.begin() as conn:  # somebody edits a stored snapshot behind the write path
            if engine.dialect.name == "postgresql":
                conn.execute(text("ALTER TABLE mtm_snapshots DISABLE TRIGGER mtm_snapshots_append_only"))
            conn.execute(text("UPDATE mtm_snapshots SET mtm_value = 1 WHERE object_id = 1"))
            conn.execute(text("UPDATE mtm_snapshots SET payload_sha256 = 'x' WHERE object_id = 3"))
            if engine.dialect.name == "postgresql":
                conn.execute(text("ALTER TABLE mtm_snapshots ENABLE TRIGGER mtm_snapshots_append_only"))
        engine.dispose()
        code, report = verify(cli)
        problems = sorted((f["snapshot"], f["problem"]) for f in report["findings"])  # type: ignore[union-attr]
        # object 1: its columns changed but not its payload, which still recomputes to its hash;
        # object 3: the hash no longer matches the payload
        assert code == 1 and problems == [("MTM:hedge_contract:3:2026-11-20", "payload_tampered")]


class TestBackfill:
    def prices_for_the_week(self, tmp_path: Path) -> None:
        rows = [
            (s, d, "2563.5")
            for s in ("LME-AL", "LME-ZN")
            for d in ("2026-11-13", "2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19")
        ]
        drop(tmp_path, "week.csv", *rows)

    def test_dry_run_lists_business_dates_and_runs_nothing(self, cli: CliRunner, db_url: str) -> None:
        result = cli.invoke(
            app,
            ["backfill", "mtm", "--in-process", "--from", "2026-11-14", "--to", "2026-11-20", "--dry-run", "--json"],
        )
        plan = json.loads(result.stdout)
        assert result.exit_code == 0
        assert [(p["as_of"], p["run"]) for p in plan] == [  # Sat 14 and Sun 15 are not business dates
            ("2026-11-16", True),
            ("2026-11-17", True),
            ("2026-11-18", True),
            ("2026-11-19", True),
            ("2026-11-20", True),
        ]
        with session_factory(db_url)() as s:
            assert s.scalars(select(BatchRun)).all() == []

    def test_each_date_is_its_own_run_and_a_rerun_resumes(self, cli: CliRunner, tmp_path: Path, db_url: str) -> None:
        self.prices_for_the_week(tmp_path)
        assert cli.invoke(app, ["run", "prices", "--in-process", "--as-of", "2026-11-20"]).exit_code == 0
        first = cli.invoke(
            app, ["backfill", "mtm", "--in-process", "--from", "2026-11-16", "--to", "2026-11-18", "--json"]
        )
        assert first.exit_code == 0, first.output
        runs = json.loads(first.stdout.splitlines()[0])
        assert [(r["as_of"], r["trigger"], r["counts"]["created"]) for r in runs] == [
            ("2026-11-16", "backfill", 3),
            ("2026-11-17", "backfill", 3),
            ("2026-11-18", "backfill", 3),
        ]
        with session_factory(db_url)() as s:  # as if the run of the 17th had failed
            s.execute(
                update(BatchRun)
                .where(BatchRun.job == "mtm", BatchRun.as_of_date == date(2026, 11, 17))
                .values(status="failed")
            )
            s.commit()
        resumed = cli.invoke(
            app, ["backfill", "mtm", "--in-process", "--from", "2026-11-16", "--to", "2026-11-20", "--json"]
        )
        assert [r["as_of"] for r in json.loads(resumed.stdout.splitlines()[0])] == ["2026-11-19", "2026-11-20"]
        failed = cli.invoke(
            app,
            [
                "backfill",
                "mtm",
                "--in-process",
                "--from",
                "2026-11-16",
                "--to",
                "2026-11-20",
                "--reprocess",
                "failed",
                "--json",
            ],
        )
        [again] = json.loads(failed.stdout.splitlines()[0])
        assert (again["as_of"], again["attempt"], again["counts"]["existing"]) == ("2026-11-17", 2, 3)

    def test_bad_ranges_are_refused(self, cli: CliRunner) -> None:
        result = cli.invoke(app, ["backfill", "mtm", "--in-process", "--from", "2026-11-20", "--to", "2026-11-16"])
        assert result.exit_code == 2 and "--to is before --from" in result.output
