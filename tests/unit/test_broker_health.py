"""`check broker`'s verdicts (issue 21, point 5): each way a Redis broker can lose a queued
task is CRITICAL and named; RDB that cannot be told is a WARNING."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from core.broker_health import BrokerFacts, check_broker
from core.monitoring import CheckState

GOOD = BrokerFacts(
    maxmemory_policy="noeviction",
    aof_enabled=True,
    rdb_save="",
    used_memory=100,
    memory_limit=1000,
    limit_is_maxmemory=True,
    visibility_timeout=3600,
    hard_time_limit=600,
)


def test_a_safe_broker_is_ok_with_its_headroom() -> None:
    check = check_broker(GOOD)
    # headroom = (1000 - 100) / 1000 = 90.0 %
    assert (check.state, check.message) == (
        CheckState.OK,
        "persistence AOF, noeviction, visibility timeout 3600 s > hard limit 600 s, memory headroom 90.0% of maxmemory",
    )


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"maxmemory_policy": "allkeys-lru"}, "maxmemory-policy is allkeys-lru, not noeviction"),
        ({"aof_enabled": False, "rdb_save": ""}, "persistence is off"),
        ({"visibility_timeout": 600}, "visibility timeout 600 s is not above the hard time limit 600 s"),
        # headroom = (1000 - 901) / 1000 = 9.9 % < 10 %
        ({"used_memory": 901}, "memory headroom 9.9% of maxmemory, under 10%"),
        # maxmemory 0: the machine's memory is the limit; (2000 - 1900) / 2000 = 5.0 %
        (
            {"used_memory": 1900, "memory_limit": 2000, "limit_is_maxmemory": False},
            "memory headroom 5.0% of the machine's memory (maxmemory 0), under 10%",
        ),
    ],
)
def test_each_way_to_lose_a_task_is_critical_and_named(change: dict[str, object], named: str) -> None:
    check = check_broker(replace(GOOD, **change))  # type: ignore[arg-type]
    assert check.state is CheckState.CRITICAL
    assert named in check.message


def test_every_problem_is_named_at_once() -> None:
    facts = replace(GOOD, maxmemory_policy="volatile-lru", aof_enabled=False, rdb_save="", visibility_timeout=60)
    assert check_broker(facts).message.count(";") == 2  # three problems


def test_rdb_snapshots_count_as_persistence() -> None:
    check = check_broker(replace(GOOD, aof_enabled=False, rdb_save="3600 1"))
    assert check.state is CheckState.OK
    assert "persistence RDB (save '3600 1')" in check.message


def test_rdb_that_cannot_be_told_is_a_warning() -> None:
    check = check_broker(replace(GOOD, aof_enabled=False, rdb_save=None))
    assert check.state is CheckState.WARNING
    assert "CONFIG refused" in check.message


def test_exactly_ten_percent_headroom_is_enough() -> None:
    facts = replace(GOOD, used_memory=900)  # (1000 - 900) / 1000 = 10.0 %, not under 10 %
    assert facts.headroom_pct == Decimal("10.0")
    assert check_broker(facts).state is CheckState.OK
