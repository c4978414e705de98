"""`hedgeops check broker` against a real Redis of the test's own (issue 21, point 5): its
configuration is changed with CONFIG SET and each change shows in the status line and the
Nagios exit code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from typer.testing import CliRunner

from tests.faults.harness import OwnRedis
from workers.cli import app


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path, aof=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def check(own_redis: OwnRedis, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[redis.Redis]:
    monkeypatch.setenv("HEDGEOPS_BROKER_URL", own_redis.url)
    monkeypatch.setenv("HEDGEOPS_DATABASE_URL", pg_url)
    client = redis.Redis.from_url(own_redis.url)
    client.config_set("maxmemory-policy", "noeviction")
    yield client
    client.close()


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["check", "broker", *args])
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout.strip()


def test_aof_and_noeviction_is_ok(check: redis.Redis) -> None:
    code, line = run()
    assert code == 0, line
    assert line.startswith("BROKER OK - persistence AOF, noeviction")


def test_eviction_is_critical(check: redis.Redis) -> None:
    check.config_set("maxmemory-policy", "allkeys-lru")
    code, line = run()
    assert (code, line.split(" - ")[0]) == (2, "BROKER CRITICAL")
    assert "maxmemory-policy is allkeys-lru" in line


def test_no_persistence_is_critical_and_rdb_is_enough(check: redis.Redis) -> None:
    check.config_set("appendonly", "no")
    check.config_set("save", "")
    code, line = run()
    assert code == 2 and "persistence is off" in line
    check.config_set("save", "3600 1")
    code, line = run("--json")
    facts = json.loads(line)
    assert (code, facts["state"], facts["rdb_save"], facts["aof_enabled"]) == (0, "OK", "3600 1", False)


def test_no_headroom_is_critical(check: redis.Redis) -> None:
    used = int(check.info("memory")["used_memory"])
    check.config_set("maxmemory", str(used + used // 20))  # about 5 % headroom, under 10 %
    code, line = run()
    assert code == 2 and "memory headroom" in line and "of maxmemory, under 10%" in line


def test_a_broker_that_does_not_answer_is_unknown_without_its_password(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEDGEOPS_BROKER_URL", "redis://:canary-s3cret@127.0.0.1:1/0")
    monkeypatch.setenv("HEDGEOPS_DATABASE_URL", pg_url)
    code, line = run()
    assert code == 3 and line.startswith("BROKER UNKNOWN - broker: ")
    assert "canary-s3cret" not in line
