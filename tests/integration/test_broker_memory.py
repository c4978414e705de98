"""A real Redis of the test's own, full under `noeviction`: what a task writes (a run lock,
a message it publishes) fails with an error the task base retries, and the consumer's probe
waits until memory is freed (workers.broker_memory). Scenario 19 (tests/faults) has the
whole worker."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import kombu
import pytest
import redis
from structlog.testing import capture_logs

from tasks.base import is_transient
from tests.faults.harness import OwnRedis
from workers.adapters.locks import RedisRunLock
from workers.broker_memory import Backoff, refused_for_memory, wait_until_writable

FILLER = "filler:"


@pytest.fixture
def full(tmp_path: Path) -> Iterator[tuple[OwnRedis, redis.Redis]]:
    """A Redis whose `maxmemory` is 1 MiB below what it holds: every write refused."""
    server = OwnRedis(tmp_path, aof=False)
    server.start()
    client = redis.Redis.from_url(server.url)
    client.config_set("maxmemory-policy", "noeviction")
    for i in range(64):
        client.set(f"{FILLER}{i}", b"x" * 65536)
    client.config_set("maxmemory", int(client.info("memory")["used_memory"]) - 1024 * 1024)
    try:
        yield server, client
    finally:
        client.close()
        server.stop()


def free(client: redis.Redis) -> None:
    client.delete(*(f"{FILLER}{i}" for i in range(64)))


def test_a_run_lock_refused_for_memory_is_transient(full: tuple[OwnRedis, redis.Redis]) -> None:
    _, client = full
    with pytest.raises(redis.exceptions.RedisError) as refused:
        RedisRunLock(client, ttl_seconds=60, prefix="t:").acquire("lock:mtm:2026-11-20", "me")
    assert refused_for_memory(refused.value) and is_transient(refused.value)
    free(client)
    assert RedisRunLock(client, ttl_seconds=60, prefix="t:").acquire("lock:mtm:2026-11-20", "me")


def test_a_publish_refused_for_memory_is_transient(full: tuple[OwnRedis, redis.Redis]) -> None:
    server, _ = full
    with kombu.Connection(server.url) as conn:  # type: ignore[no-untyped-call]  # kombu: unannotated
        queue = kombu.Queue("valuation", kombu.Exchange("valuation", type="direct"), routing_key="valuation")  # type: ignore[no-untyped-call]
        with pytest.raises(Exception) as refused:
            conn.Producer().publish({"a": 1}, exchange=queue.exchange, routing_key="valuation", declare=[queue])
    print(f"\npublish refused: {refused.value!r}")
    assert refused_for_memory(refused.value), repr(refused.value)
    assert is_transient(refused.value), repr(refused.value)


def test_the_probe_waits_until_memory_is_freed(full: tuple[OwnRedis, redis.Redis]) -> None:
    _, client = full
    freeing = threading.Timer(1.0, free, args=(client,))
    freeing.start()
    try:
        with capture_logs() as logs:
            waited = wait_until_writable(redis.Redis.from_url(full[0].url), "w@host", Backoff(first=0.1, cap=0.2))
    finally:
        freeing.join()
    print(f"\nwaited {waited:.1f}s; {[(e['event'], e.get('attempts')) for e in logs]}")
    assert [e["event"] for e in logs] == ["broker_memory_full", "broker_memory_freed"]
    assert client.get("hedgeops:broker:writable") == b"w@host"
