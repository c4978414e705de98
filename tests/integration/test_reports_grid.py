"""The grid of runs (issue 24, point 3): on a backfilled range with one failed and one
missing date the grid shows both, the terminal view and the HTML page agree, and the
dates it marks `> backfill` are the ones `backfill --dry-run` runs."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from core.values import Trigger
from db import ledger
from db.engine import dispose_all, session_factory
from db.uow import SqlAlchemyUnitOfWork
from tests.browser import browser, open_report  # noqa: F401 - pytest fixture
from workers.cli import app

MISSING, FAILED = "2026-11-18", "2026-11-17"


def invoke(cli: CliRunner, *args: str) -> Any:
    result = cli.invoke(app, list(args))
    dispose_all()
    return result


@pytest.fixture
def backfilled(embedded_cli: CliRunner, db_url: str) -> CliRunner:
    """mtm backfilled on Mon 16, Tue 17, Thu 19 and Fri 20 Nov 2026 (Wed 18 never ran);
    then a second attempt of the 17th started and abandoned by hand: it ends `failed`."""
    for first, last in (("2026-11-16", "2026-11-17"), ("2026-11-19", "2026-11-20")):
        assert invoke(embedded_cli, "backfill", "mtm", "--in-process", "--from", first, "--to", last).exit_code == 0
    with SqlAlchemyUnitOfWork(session_factory(db_url)) as uow:
        now = datetime(2026, 11, 18, 6, tzinfo=UTC)
        started = ledger.start_run(
            uow.session, "mtm", date.fromisoformat(FAILED), Trigger.MANUAL, now=now, stale_after=timedelta(hours=1)
        )
        run_id = started.run.id
        uow.commit()
    result = invoke(embedded_cli, "runs", "abandon", str(run_id), "--by", "ops", "--reason", "worker lost")
    assert result.exit_code == 0, result.output
    return embedded_cli


def terminal_cells(stdout: str, jobs: list[str]) -> dict[tuple[str, str], str]:
    """The terminal table's cells by (job, date): off a terminal every value is whole, the
    columns two or more spaces apart (no label holds two spaces)."""
    cells = {}
    for line in stdout.splitlines():
        if re.match(r"\d{4}-\d{2}-\d{2} ", line):
            day, *labels = re.split(r"\s{2,}", line.strip())
            assert len(labels) == len(jobs), line
            cells.update({(job, day): label for job, label in zip(jobs, labels, strict=True)})
    return cells


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the grid's query is one select: SQLite says enough
def test_failed_and_missing_in_both_views(backfilled: CliRunner, tmp_path: Path, browser: Any) -> None:
    page = tmp_path / "grid.html"
    args = ("runs", "grid", "--job", "mtm", "--from", "2026-11-16", "--to", "2026-11-22")
    result = invoke(backfilled, *args, "--html", str(page))
    assert result.exit_code == 0, result.output
    shown = terminal_cells(result.stdout, ["mtm"])
    # Mon 16 .. Fri 20 are business days of the weekday calendar; the weekend shows nothing.
    assert sorted(shown) == [("mtm", f"2026-11-{d}") for d in range(16, 21)]
    assert shown[("mtm", MISSING)] == "missing > backfill"
    assert re.fullmatch(r"failed #\d+ x2", shown[("mtm", FAILED)])  # kept: `--reprocess failed` runs it
    assert all(re.fullmatch(r"succeeded #\d+", shown[("mtm", d)]) for d in ("2026-11-16", "2026-11-19", "2026-11-20"))

    cells = json.loads(invoke(backfilled, *args, "--json").stdout)
    planned = json.loads(
        invoke(
            backfilled, "backfill", "mtm", "--from", "2026-11-16", "--to", "2026-11-22", "--dry-run", "--json"
        ).stdout
    )
    assert [c["as_of"] for c in cells if c["backfill"]] == [p["as_of"] for p in planned if p["run"]] == [MISSING]

    opened = open_report(browser, page, tmp_path / "grid.png")
    in_html = {
        (job, day): text
        for day, job, text in opened.page.eval_on_selector_all(
            "#grid tbody td",
            "tds => tds.map(td => [td.parentElement.dataset.day, td.dataset.job, td.innerText.trim()])",
        )
    }
    assert {k: v for k, v in in_html.items() if v != "-"} == shown
    failed_run = re.search(r"#(\d+)", shown[("mtm", FAILED)]).group(1)  # type: ignore[union-attr]
    assert opened.texts(f"#run-{failed_run} td")[3] == "failed"  # the cell's link lands on its run
    assert opened.requests == []
    assert opened.screenshot is not None and opened.screenshot.stat().st_size > 0


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_mistakes_are_one_line_and_exit_2(embedded_cli: CliRunner, tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("x", encoding="utf-8")
    cases = {
        ("report", "dossier", "HD-NOPE", "--as-of", "2026-11-20", "--out", str(tmp_path / "o")): (
            "hedgeops: no hedge relationship HD-NOPE"
        ),
        ("report", "dossier", "--as-of", "2026-11-20"): "hedgeops: name one relationship, or --all",
        ("report", "dossier", "HD-1", "--all", "--as-of", "2026-11-20"): "hedgeops: name one relationship, or --all",
        (
            "report",
            "morning",
            "--as-of",
            "2026-11-20",
            "--out",
            str(a_file),
        ): f"hedgeops: --out {a_file}: is a file, not a folder",
        ("runs", "grid", "--from", "2026-11-20", "--to", "2026-11-19"): "hedgeops: --to is before --from",
        ("runs", "grid", "--html", str(tmp_path)): f"hedgeops: --html {tmp_path}: is a folder, not a file",
    }
    for args, line in cases.items():
        result = invoke(embedded_cli, *args)
        assert (result.exit_code, result.stderr.strip()) == (2, line), args
    assert not (tmp_path / "o").exists()  # nothing written, not even the folder
