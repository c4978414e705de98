"""Off a terminal every CLI command prints whole values (issue 20, point 5): each command runs
on the demo's database with its output captured (no terminal, as when piped), and no `…`
appears; a command added without a line here fails the test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from db.engine import dispose_all
from workers.cli import app

SAMPLES = Path(__file__).parents[2] / "workers" / "sample_data"
#: Every command, with arguments that make it print (a mistake prints one line, no table).
COMMANDS: dict[str, list[str]] = {
    "db upgrade": [],
    "load contracts": [str(SAMPLES / "contracts.csv")],
    "load prices": [str(SAMPLES / "prices_2026-11-19.csv")],
    "load hedged-items": ["no-such-file.json"],
    "load designations": ["no-such-file.json"],
    "load expected-positions": ["no-such-file.csv"],
    "report effectiveness": ["--as-of", "2026-11-20"],
    "report mtm": ["--as-of", "2026-11-20"],
    "report journals": ["--period", "2026-11"],
    "report reserve": ["--period", "2026-11"],
    "periods close": ["2026-10", "--by", "alice", "--reason", "month end"],
    "periods reopen": ["2026-10", "--by", "alice", "--second", "bob", "--reason", "restatement"],
    "load no-longer-expected": ["no-such-file.json"],
    "load counterparties": [str(SAMPLES / "counterparties.csv")],
    "load price-decisions": ["no-such-file.csv"],
    "report counterparties": ["--as-of", "2026-11-20"],
    "report dossier": ["HD-DEMO-1", "--as-of", "2026-11-30", "--out", "reports"],
    "report morning": ["--as-of", "2026-11-20", "--out", "reports"],
    "load settlements": [str(SAMPLES / "settlements.json")],  # the demo settled it: existing
    "report settlements": ["--period", "2026-11"],
    "mt5 accounts add": [
        "--login",
        "1",
        "--server",
        "S",
        "--terminal",
        "demo",
        "--currency",
        "USD",
        "--credential",
        "env:X",
    ],
    "mt5 accounts list": [],
    "mt5 cycles": [],
    "mt5 reconciliation": ["12"],  # the demo's MT5 cycle
    "guard status": [],
    "guard alerts": [],
    "guard reset": ["700002", "--by", "alice", "--reason", "reviewed"],
    "guard replay": ["--account", "700002", "--from", "2026-01-01", "--to", "2026-12-31"],
    "run": ["mtm", "--as-of", "2026-11-20"],
    "status": [],
    "runs show": ["1"],
    "runs abandon": ["1", "--by", "a", "--reason", "b"],
    "runs grid": ["--from", "2026-11-16", "--to", "2026-11-20"],
    "check nightly": ["--as-of", "2026-11-20"],
    "check broker": [],
    "check queues": [],
    "flower": [],
    "verify": ["--as-of", "2026-11-20"],
    "backfill": ["mtm", "--from", "2026-11-19", "--to", "2026-11-20"],
    "demo": [],
}


def command_paths(group: Any, prefix: str = "") -> list[str]:
    paths = []
    for name, command in group.commands.items():
        if hasattr(command, "commands"):  # a group (typer may carry a click of its own)
            paths += command_paths(command, f"{prefix}{name} ")
        else:
            paths.append(f"{prefix}{name}")
    return sorted(paths)


def test_every_command_is_here() -> None:
    assert command_paths(typer.main.get_command(app)) == sorted(COMMANDS)


def test_no_command_shortens_a_value_when_piped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("HEDGEOPS_DATABASE_URL", "HEDGEOPS_BROKER_URL", "HEDGEOPS_FLOWER_USER", "HEDGEOPS_FLOWER_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HEDGEOPS_LOG_LEVEL", "WARNING")
    dispose_all()  # the demo's URL is relative (var/demo/...): no engine of another test's folder
    runner = CliRunner()
    demo = runner.invoke(app, ["demo"])
    assert demo.exit_code == 5  # LME-NI has no price: completed_with_exceptions
    assert demo.stdout.startswith(readme_demo_output()), demo.stdout  # the README shows what it prints
    monkeypatch.setenv("HEDGEOPS_DATABASE_URL", f"sqlite:///{tmp_path}/var/demo/hedgeops-demo.db")
    monkeypatch.setenv("HEDGEOPS_PRICE_DROP_DIR", str(tmp_path / "var" / "demo" / "prices" / "incoming"))
    long_lines(f"sqlite:///{tmp_path}/var/demo/hedgeops-demo.db")
    printed = {}
    for path, args in COMMANDS.items():
        if path == "demo":
            continue
        result = runner.invoke(app, [*path.split(), *args])
        assert "Traceback" not in result.output, (path, result.output)
        printed[path] = result.stdout
    assert [p for p, text in printed.items() if "…" in text] == []
    assert "prices_2026-11-19.csv" in printed["report mtm"]  # the widest table, whole
    # Cut without `…` is cut too: `status` cut error lines at 100 characters and job names at 17.
    assert f"run 2: {LONG_ERROR}" in printed["status"]
    assert f"run 13: {LONG_ERROR}" in printed["mt5 cycles"]
    assert f" {LONG_JOB} " in printed["mt5 cycles"]


def readme_demo_output() -> str:
    """The ```text block of the README's Quickstart: how the demo's output begins."""
    quickstart = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8").split("## Quickstart", 1)[1]
    return quickstart.split("```text\n", 1)[1].split("```", 1)[0]


#: Longer than the 100 columns `status` and `mt5 cycles` keep on a terminal.
LONG_ERROR = "step mtm (batch run 2) failed: " + "the price file of vendor_csv could not be read " * 3 + "(end)"
LONG_JOB = "mt5_sync:terminal-with-a-long-name"


def long_lines(url: str) -> None:
    """The demo's mtm run (2) failed with a long error; its second MT5 cycle (13) ran on a
    terminal of a long name and failed the same way (the demo's own runs have short ones)."""
    from sqlalchemy import update

    from db.engine import session_factory
    from db.models import BatchRun

    with session_factory(url)() as s:
        s.execute(update(BatchRun).where(BatchRun.id == 2).values(status="failed", error=LONG_ERROR))
        s.execute(update(BatchRun).where(BatchRun.id == 13).values(status="failed", error=LONG_ERROR, job=LONG_JOB))
        s.commit()


def test_on_a_terminal_status_keeps_its_100_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from rich.console import Console

    from workers.cli import runs

    screen = io.StringIO()
    monkeypatch.setattr(runs, "out", Console(file=screen, force_terminal=True, width=160, color_system=None))
    run = {
        "batch_run_id": 2,
        "job": LONG_JOB,
        "as_of": "2026-11-20",
        "status": "failed",
        "started_at": "2026-11-20T18:00:00+00:00",
        "finished_at": "2026-11-20T18:01:00+00:00",
        "counts": {"exceptions": 0},
        "error": LONG_ERROR,
    }
    runs.show_grouped([(run, [])], title="batch runs")
    lines = screen.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 100
    assert lines[-1] == f"run 2: {LONG_ERROR}"[:100]
