"""Logging: every line of a task carries task id and name, batch run and as-of date;
secrets never reach a log; JSON when not on a TTY."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

from tests.builders import contract, contracts_csv, prices_csv
from tests.fakes import InMemoryPriceSource
from workers.logging import configure_logging, redact_secrets, redact_text


def test_task_lines_carry_task_run_and_date(runtime: Any, price_source: InMemoryPriceSource) -> None:
    from tasks.loading import load_contracts_csv
    from tasks.nightly import run_nightly

    configure_logging("INFO", "json", force=True)  # an earlier test may have set WARNING
    load_contracts_csv(contracts_csv(contract("A")), "c.csv")
    price_source.add("p.csv", prices_csv(("LME-AL", "2026-11-19", "2510"), ("LME-AL", "2026-11-19", "-1")))
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        run_nightly.apply_async(kwargs={"as_of": "2026-11-20"}).get()
    ours = [
        e
        for e in logs
        if e["event"]
        in {"mtm_chunk_written", "price_row_rejected", "mtm_planned", "batch_run_finished", "nightly_step_sent"}
    ]
    assert {e["event"] for e in ours} == {
        "mtm_chunk_written",
        "price_row_rejected",
        "mtm_planned",
        "batch_run_finished",
        "nightly_step_sent",
    }
    for event in ours:
        assert {"task_id", "task_name", "batch_run_id", "as_of"} <= event.keys(), event
        assert event["task_name"].startswith("hedgeops.")
    rejected = next(e for e in ours if e["event"] == "price_row_rejected")
    assert (rejected["file"], rejected["line"]) == ("p.csv", 3)
    assert rejected["task_name"] == "hedgeops.prices.fetch_settlement_prices"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("postgresql+psycopg://hedge:s3cret@db:5432/x", "postgresql+psycopg://hedge:***@db:5432/x"),
        ("redis://:pw@redis:6379/0", "redis://:***@redis:6379/0"),
        ("redis://redis:6379/0", "redis://redis:6379/0"),
    ],
)
def test_passwords_in_urls_are_redacted(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_secret_fields_are_redacted_at_any_depth() -> None:
    event = {
        "event": "x",
        "password": "p",
        "mt5": {"login": 5001, "api_key": "k"},
        "url": "redis://u:pw@h/0",
        "note": "connecting to postgresql://a:b@h/d",
    }
    out = redact_secrets(None, "info", dict(event))
    assert out["password"] == "***" and out["mt5"] == {"login": 5001, "api_key": "***"}
    assert out["url"] == "redis://u:***@h/0" and out["note"] == "connecting to postgresql://a:***@h/d"


def test_a_cli_run_with_the_broker_down_says_one_line_without_the_password(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEDGEOPS_")}
    env.update(
        HEDGEOPS_DATABASE_URL=f"sqlite:///{tmp_path}/x.db",
        HEDGEOPS_LOG_LEVEL="INFO",
        HEDGEOPS_BROKER_URL="redis://user:topsecret@127.0.0.1:1/0",
        HEDGEOPS_REDIS_SOCKET_TIMEOUT="0.2",
    )
    hedgeops = str(Path(sys.executable).parent / "hedgeops")
    subprocess.run([hedgeops, "db", "upgrade"], env=env, cwd=tmp_path, capture_output=True, timeout=120, check=True)
    result = subprocess.run(
        [hedgeops, "run", "mtm", "--as-of", "2026-11-20"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 6  # nothing listens on port 1: nothing sent
    assert "hedgeops: cannot reach the broker or result backend redis://user:***@127.0.0.1:1/0" in result.stderr
    assert "topsecret" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr  # a user's mistake: one line


class TestContextEndsWithItsTask:
    """Log context is bound once, by the task base, from a task's arguments, and restored
    when the task ends: nothing of one task reaches a line of the next in the process."""

    @staticmethod
    @functools.cache
    def declared() -> tuple[Any, Any]:
        from tasks.base import job_task

        @job_task("hedgeops.test.leaky_bind", queue="valuation")
        def leaky(self: Any, run_id: int, chunk_no: int) -> str:
            structlog.contextvars.bind_contextvars(as_of="2026-11-20", stray="left over")  # a body binding by hand
            structlog.get_logger("test").info("leaky_logged")
            return str(self.request.id)

        @job_task("hedgeops.test.plain_echo", queue="valuation")
        def echo(self: Any, terminal: str) -> str:
            structlog.get_logger("test").info("echo_logged")
            return str(self.request.id)

        return leaky, echo

    def test_no_context_of_the_first_task_reaches_the_second(self, runtime: Any) -> None:
        leaky, echo = self.declared()
        with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
            first_id = leaky.apply_async(kwargs={"run_id": 41, "chunk_no": 3}).get()
            second_id = echo.apply_async(kwargs={"terminal": "t1"}).get()
        first = next(e for e in logs if e["event"] == "leaky_logged")
        second = next(e for e in logs if e["event"] == "echo_logged")
        assert (first["batch_run_id"], first["chunk_no"], first["task_id"]) == (41, 3, first_id)
        assert (second["terminal"], second["task_id"], second["task_name"]) == (
            "t1",
            second_id,
            "hedgeops.test.plain_echo",
        )
        assert not {"batch_run_id", "chunk_no", "as_of", "stray"} & second.keys(), second
        assert structlog.contextvars.get_contextvars() == {}

    def test_a_real_job_leaves_nothing_behind(self, runtime: Any) -> None:
        from tasks.loading import load_contracts_csv
        from tasks.valuation import compute_mtm_snapshots

        _, echo = self.declared()
        load_contracts_csv(contracts_csv(contract("A"), contract("B")), "c.csv")
        with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
            compute_mtm_snapshots.apply_async(kwargs={"as_of": "2026-11-20"}).get()
            echo.apply_async(kwargs={"terminal": "t1"}).get()
        chunk = next(e for e in logs if e["event"] == "mtm_chunk_written")
        assert chunk["as_of"] == "2026-11-20" and "chunk_no" in chunk  # the chunk's own context
        second = next(e for e in logs if e["event"] == "echo_logged")
        assert not {"batch_run_id", "chunk_no", "as_of"} & second.keys(), second
