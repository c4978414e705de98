"""What every command shares: consoles, exit codes, settings, start-up, run output.

Exit codes: 0 done (or queued), 1 failed or rows rejected, 2 bad input or setting (nothing
written), 3 finished with conflicts, 4 still running (--wait timed out, no worker consumes
the queue, or another trigger's run is in progress), 5 finished with exceptions, 6 the
database or the broker cannot be reached (nothing sent)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from core.errors import HedgeopsError, InvalidInput
from core.redaction import redact_text, redact_value
from core.values import RunStatus
from workers.modes import Mode, execution_mode
from workers.settings import Settings, SettingsError, load_settings

#: Off a terminal (a pipe, a file, a log, a test's runner) stdout is as wide as its tables need: a
#: table is as wide as its values (rich's natural width), never folded nor shortened with `…`.
#: On a terminal rich fits it to the window.
OFF_TERMINAL_WIDTH = 100_000
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else OFF_TERMINAL_WIDTH)
err = Console(stderr=True, soft_wrap=True)

EXIT_FAILED, EXIT_BAD_INPUT, EXIT_CONFLICTS, EXIT_RUNNING, EXIT_EXCEPTIONS, EXIT_UNREACHABLE = 1, 2, 3, 4, 5, 6
T = TypeVar("T")


class FailedExit(typer.Exit):
    """A command's failure: its exit code, its message, and the JSON a `--json` command
    prints for it (None: the command's default object)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(code)
        self.message = message
        self.json: Any = None


def fail(message: str, code: int = EXIT_BAD_INPUT) -> FailedExit:
    """One line on stderr; the Exit keeps the message (a `--json` command prints it too)."""
    err.print(f"hedgeops: {message}", markup=False, highlight=False)
    return FailedExit(code, message)


def settings_or_exit(**overrides: Any) -> Settings:
    try:
        settings = load_settings(**overrides)
    except SettingsError as exc:
        raise fail(str(exc)) from None
    if settings.unknown_names:  # HEDGEOPS_ALLOW_UNKNOWN_SETTINGS: started, with one line of warning
        err.print(
            f"hedgeops: warning: unknown setting(s) ignored: {', '.join(settings.unknown_names)}",
            markup=False,
            highlight=False,
        )
    return settings


#: `run` and `backfill`: running the work in this process on a server database is asked for, never a default.
IN_PROCESS_OPTION = typer.Option(
    "--in-process", help="no broker, a server database: run the work in this process (embedded SQLite always does)"
)


def mode_or_exit(settings: Settings, in_process: bool) -> Mode:
    """Where a command's work runs (workers.modes), or one line and exit 2 for a mix of settings."""
    try:
        return execution_mode(settings, in_process=in_process)
    except SettingsError as exc:
        raise fail(str(exc)) from None


def start(settings: Settings, *, database: bool = True) -> Any:
    """Logging, the bundles of ports and the Celery app for this process; first (unless `database` is
    False) the database must answer and have its schema: one line and exit 6 if not."""
    from workers.celery_app import create_app

    if database:
        require_database(settings)
    return create_app(settings)


def require_database(settings: Settings) -> None:
    from db.health import database_problem

    problem = database_problem(settings.database_url)
    if problem is not None:
        raise fail(problem, EXIT_UNREACHABLE)


def read_text_file(path: Path) -> str:
    """A file's text, or one line saying why not (exit 2, nothing written)."""
    try:
        return path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise fail(f"{path}: no such file") from None
    except IsADirectoryError:
        raise fail(f"{path}: is a folder, not a file; nothing loaded") from None
    except PermissionError:
        raise fail(f"{path}: not readable (permission denied); nothing loaded") from None
    except OSError as exc:
        raise fail(f"{path}: cannot be read ({exc.strerror or exc}); nothing loaded") from None
    except UnicodeDecodeError as exc:
        raise fail(f"{path}: not UTF-8 text ({exc.reason}); nothing loaded") from None


def load_file(file: Path, loader: Callable[[str, str], T]) -> T:
    """Every `load` command: read the file as UTF-8 text, start up, hand it to the loader;
    refused input (all or nothing) is listed row by row and ends the command with exit 2."""
    text = read_text_file(file)
    start(settings_or_exit())
    return _loaded(lambda: loader(text, file.name))


def _loaded(load: Callable[[], T]) -> T:
    """Run a load; refused input (all or nothing) is listed row by row, and it and any other
    refusal end the command with one line and exit 2."""
    try:
        return load()
    except InvalidInput as exc:
        for line in exc.errors:
            err.print(f"  {line}", markup=False, highlight=False)
        raise fail(str(exc)) from None
    except HedgeopsError as exc:
        raise fail(f"{exc}; nothing loaded") from None


def load_streamed(file: Path, loader: Callable[[Callable[[], Iterator[str]], str], T]) -> T:
    """A `load` command whose loader streams the file (two passes, bounded memory): only a
    regular file is read, a line at most MAX_LINE_CHARS long; refused input is listed row by
    row and ends the command with exit 2, as load_file does."""
    from workers.adapters.drop_files import DEFAULT_LIMITS, bounded_lines, kind_of

    try:
        kind = kind_of(file.stat().st_mode)
    except FileNotFoundError:
        raise fail(f"{file}: no such file") from None
    except OSError as exc:
        raise fail(f"{file}: cannot be read ({exc.strerror or exc}); nothing loaded") from None
    if kind is not None:
        raise fail(f"{file}: {kind}, not a regular file; nothing loaded")

    def lines() -> Iterator[str]:
        with file.open(encoding="utf-8-sig", newline="") as handle:
            yield from bounded_lines(handle, file.name, DEFAULT_LIMITS)

    start(settings_or_exit())
    try:
        return _loaded(lambda: loader(lines, file.name))
    except PermissionError:
        raise fail(f"{file}: not readable (permission denied); nothing loaded") from None
    except UnicodeDecodeError as exc:
        raise fail(f"{file}: not UTF-8 text ({exc.reason}); nothing loaded") from None


def parse_day(value: str, option: str = "--as-of") -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise fail(f"{option} {value!r}: expected YYYY-MM-DD") from None


def exit_code(status: str) -> int:
    return {
        RunStatus.FAILED.value: EXIT_FAILED,
        RunStatus.RUNNING.value: EXIT_RUNNING,
        RunStatus.COMPLETED_WITH_CONFLICTS.value: EXIT_CONFLICTS,
        RunStatus.COMPLETED_WITH_EXCEPTIONS.value: EXIT_EXCEPTIONS,
    }.get(status, 0)


def show_runs(summaries: list[dict[str, Any]], as_json: bool, *, single: bool = False) -> None:
    if as_json:
        print(json.dumps(redact_value(summaries[0] if single else summaries), indent=None))
        return
    table = Table(
        "run",
        "job",
        "as of",
        "attempt",
        "trigger",
        "status",
        "processed",
        "created",
        "existing",
        "conflicts",
        "exceptions",
        title="batch runs" if not single else None,
    )
    for s in summaries:
        c = s.get("counts") or {}
        table.add_row(
            str(s.get("batch_run_id") or "-"),
            s["job"],
            s["as_of"],
            str(s.get("attempt", "-")),
            s.get("trigger", "-"),
            s["status"],
            *(str(c.get(k, "-")) for k in ("processed", "created", "existing", "conflicts", "exceptions")),
        )
    out.print(table)
    for s in summaries:
        if s.get("error"):
            out.print(f"run {s['batch_run_id']}: {redact_text(str(s['error']))}", markup=False)
        if s.get("note"):
            out.print(f"note: {s['note']}", markup=False)
