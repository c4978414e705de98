"""Scenarios 19 and 20 of the fault suite, on real worker and beat processes, a Redis server
of their own and PostgreSQL: Redis full under `noeviction` while an MTM run is in progress
(every write refused for memory: the worker's bookkeeping of a message it takes, the
chunks' results, the sweep's re-sends), and a FLUSHALL that loses a nightly's queued step.
Effects are counted per key from the database; recovery times are printed
(docs/reliability.md records them), never asserted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import select

from db.models import BatchRun
from tasks import names
from tests.cluster import Cluster, rows
from tests.faults.harness import (
    AS_OF,
    OwnRedis,
    chunks_done,
    effects,
    load_book,
    own_cluster,
    run_status,
    verify_clean,
    wait_until,
)

pytestmark = pytest.mark.e2e

N, CHUNK = 4000, 50
#: The filler's keys: none of the app's (its keys are all under the cluster's prefix).
FILLER = "filler:"


def fill(client: redis.Redis) -> int:
    """Redis full under `noeviction`: 8 MiB of filler written, then `maxmemory` set 2 MiB
    below what it holds, so that a message taken from a queue (which frees its own bytes)
    never makes room for the next write: every write that may grow memory is refused until
    the filler goes. The filler's bytes."""
    client.config_set("maxmemory-policy", "noeviction")
    for i in range(128):
        client.set(f"{FILLER}{i}", b"x" * 65536)
    used = int(client.info("memory")["used_memory"])
    client.config_set("maxmemory", used - 2 * 1024 * 1024)
    try:
        client.set(f"{FILLER}probe", b"x")
    except redis.exceptions.OutOfMemoryError:
        return 128 * 65536
    raise AssertionError("Redis took a write above its maxmemory")


def freed(client: redis.Redis) -> None:
    """The filler deleted (DEL is allowed under `noeviction`); `maxmemory` stays."""
    for keys in _batches(client.scan_iter(match=f"{FILLER}*", count=1000)):
        client.delete(*keys)


def _batches(keys: Iterator[bytes], size: int = 500) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for key in keys:
        batch.append(key)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def started(cluster: Cluster, tmp: Path) -> int:
    """A worker and beat up, the prices of D-1 in, the MTM run triggered: its id."""
    cluster.worker("w", concurrency=2)
    cluster.start("beat", "-s", str(tmp / "schedule"), "--loglevel", "INFO", name="beat")
    prices = cluster.trigger("hedgeops.prices.fetch_settlement_prices", as_of=AS_OF).get(timeout=120)
    cluster.wait_run(prices["batch_run_id"])
    return int(
        cluster.trigger("hedgeops.valuation.compute_mtm_snapshots", as_of=AS_OF).get(timeout=120)["batch_run_id"]
    )


def events(log: Path) -> list[dict[str, object]]:
    """The JSON lines of a process's log."""
    found = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            found.append(json.loads(line))
        except ValueError:
            continue
    return [e for e in found if isinstance(e, dict)]


def test_19_redis_full_under_noeviction(pg_url: str, tmp_path: Path, redis_server: OwnRedis) -> None:
    # The consumer watchdog at its shortest (10 s): Redis stays full for longer, and a consumer
    # waiting for memory must not be taken for a stalled one (that worker would exit 70).
    cluster = own_cluster(
        pg_url, tmp_path, redis_server.url, HEDGEOPS_MTM_CHUNK_SIZE=str(CHUNK), HEDGEOPS_QUEUE_STALL_SECONDS="10"
    )
    client = redis.Redis.from_url(redis_server.url)
    try:
        load_book(N, tmp_path / "incoming")
        run_id = started(cluster, tmp_path)
        wait_until(lambda: chunks_done(pg_url, run_id) >= 5, 300, "5 chunks")
        filler = fill(client)
        at = chunks_done(pg_url, run_id)
        assert run_status(pg_url, run_id) == "running", "the run ended before Redis was full: make it longer"
        print(f"\nredis full ({filler} bytes of filler, maxmemory 2 MiB below) at {at} of {N // CHUNK} chunks")
        worker = next(p for p in cluster.procs if list(map(str, p.args))[3:4] == ["worker"])
        log = tmp_path / "w.log"
        # The worker meets a refusal (an ack, a message's bookkeeping) and says so; then it
        # stays up, full, for a while, taking nothing.
        wait_until(lambda: any(e["event"] == "broker_memory_full" for e in events(log)), 120, "broker_memory_full")
        time.sleep(25)  # past the watchdog's 10 s, the chunks still queued waiting all along
        assert worker.poll() is None, cluster.log_tail("w")
        during = chunks_done(pg_url, run_id)
        t0 = time.monotonic()
        freed(client)
        final = cluster.wait_run(run_id, timeout=300)
        took = time.monotonic() - t0
        after = effects(pg_url)
        said = events(log)
        count = {name: sum(e["event"] == name for e in said) for name in ("broker_memory_full", "broker_memory_freed")}
        resent = sum(e["event"] == "stale_run_chunks_resent" for e in said)
        tracebacks = [e for e in said if "OutOfMemoryError" in str(e.get("exception", ""))]
        print(
            f"run {run_id}: {final['status']} counts={final['counts']} effects={after}; {during - at} chunks "
            f"counted in while full; worker said {count}, the sweep re-sent {resent} time(s); "
            f"recovered_in={took:.1f}s after memory was freed"
        )
        assert worker.poll() is None, cluster.log_tail("w")
        text = log.read_text(errors="replace")
        assert "Unrecoverable error" not in text and "Frequent restarts" not in text
        assert "consumer_stalled" not in text
        assert count["broker_memory_full"] >= 1 and count["broker_memory_full"] == count["broker_memory_freed"]
        assert tracebacks == []
        assert final["status"] == "succeeded"
        assert (after.snapshots, after.distinct_keys, after.duplicated, after.conflicts, after.wrong_values) == (
            N,
            N,
            0,
            0,
            0,
        )
        assert after.running == 0 and final["counts"]["processed"] == N
        assert verify_clean(cluster)
    finally:
        client.close()
        cluster.stop_all()


def nightlies(url: str) -> list[tuple[int, str, str]]:
    """(id, job, status) of the nightly of AS_OF and of its steps."""
    query = select(BatchRun.id, BatchRun.job, BatchRun.status).where(BatchRun.as_of_date == date.fromisoformat(AS_OF))
    return [(int(i), str(j), str(s)) for i, j, s in rows(url, query.order_by(BatchRun.id))]


def test_20_flushall_loses_a_queued_nightly_step(pg_url: str, tmp_path: Path, redis_server: OwnRedis) -> None:
    cluster = own_cluster(pg_url, tmp_path, redis_server.url, HEDGEOPS_MTM_CHUNK_SIZE=str(CHUNK))
    client = redis.Redis.from_url(redis_server.url)
    queue = cluster.env["HEDGEOPS_REDIS_KEY_PREFIX"] + "prices"
    try:
        load_book(N, tmp_path / "incoming")
        # Nobody consumes `prices` yet: the nightly's first step waits in its queue.
        cluster.worker("valuation", queues="valuation", concurrency=2)
        cluster.start("beat", "-s", str(tmp_path / "schedule"), "--loglevel", "INFO", name="beat")
        cluster.trigger(names.RUN_NIGHTLY, as_of=AS_OF)
        wait_until(lambda: client.llen(queue) == 1, 120, "the prices step queued")
        nightly = nightlies(pg_url)[0]
        assert nightly[1:] == ("nightly", "running")
        client.flushall()  # the Redis of this test's own
        t0 = time.monotonic()
        assert client.llen(queue) == 0 and client.dbsize() == 0
        cluster.worker("prices", queues="prices", concurrency=1)
        final = cluster.wait_run(nightly[0], timeout=300)
        took = time.monotonic() - t0
        after = effects(pg_url)
        runs = nightlies(pg_url)
        resent = sum(e["event"] == "nightly_step_resent" for e in events(tmp_path / "valuation.log"))
        print(
            f"\nnightly {nightly[0]}: {final['status']}; runs of {AS_OF} {runs}; effects={after}; "
            f"the sweep re-sent a step {resent} time(s); recovered_in={took:.1f}s from the FLUSHALL"
        )
        assert final["status"] == "succeeded", final
        assert [job for _, job, _ in runs] == ["nightly", "prices", "mtm", "effectiveness", "postings"]
        assert {status for _, _, status in runs} == {"succeeded"}
        assert resent >= 1
        assert (after.snapshots, after.distinct_keys, after.duplicated, after.conflicts, after.wrong_values) == (
            N,
            N,
            0,
            0,
            0,
        )
        assert after.running == 0
        assert verify_clean(cluster)
    finally:
        client.close()
        cluster.stop_all()


class SlowFeed:
    """An `http_json` price source on 127.0.0.1: its first answer comes after `first_delay`
    seconds (the prices step is in progress meanwhile), every later one at once. Each
    answer: LME-AL 2510.125 for the D-1 date."""

    def __init__(self, first_delay: float) -> None:
        self.asked = threading.Event()
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                first = not feed.asked.is_set()
                feed.asked.set()
                if first:
                    time.sleep(first_delay)
                body = json.dumps(feed.body()).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the asker was killed meanwhile
                    pass

            def log_message(self, *args: Any) -> None:
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/prices"

    @staticmethod
    def body() -> dict[str, Any]:
        row = {"symbol": "LME-AL", "price_date": "2026-11-19", "price": "2510.125", "currency": "USD"}
        return {
            "request_id": "req-20",
            "published_at": "2026-11-19T17:30:00+00:00",
            "prices": [{**row, "unit": "mt", "price_type": "cash_settlement"}],
        }

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def killed(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL a worker's main process and its pool: no warm shutdown, nothing given back."""
    children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True, check=False)
    for pid in (proc.pid, *map(int, children.stdout.split())):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=30)


def test_20_flushall_loses_a_nightly_step_in_progress(pg_url: str, tmp_path: Path, redis_server: OwnRedis) -> None:
    """The prices step has begun (its run is `running`) when its worker is SIGKILLed and a
    FLUSHALL takes the unacked copy of its message: no redelivery will ever come."""
    feed = SlowFeed(first_delay=120)
    sources = [{"name": "feed", "kind": "http_json", "url": feed.url, "symbols": ["LME-*=mt"], "timeout": 300}]
    cluster = own_cluster(pg_url, tmp_path, redis_server.url, HEDGEOPS_MTM_CHUNK_SIZE=str(CHUNK))
    feeds = {"HEDGEOPS_PRICE_SOURCES": json.dumps(sources)}  # the workers' only price source
    client = redis.Redis.from_url(redis_server.url)
    try:
        load_book(N, tmp_path / "incoming")
        first = cluster.worker("first", concurrency=2, extra_env=feeds)
        cluster.start("beat", "-s", str(tmp_path / "schedule"), "--loglevel", "INFO", name="beat")
        cluster.trigger(names.RUN_NIGHTLY, as_of=AS_OF)
        assert feed.asked.wait(120), "the prices step never asked the feed"
        killed(first)  # within the sweep's 10 s of the step's start: it was never re-sent before
        client.flushall()  # the Redis of this test's own
        t0 = time.monotonic()
        step = [r for r in nightlies(pg_url) if r[1] == "prices"]
        assert [s for _, _, s in step] == ["running"], nightlies(pg_url)
        cluster.worker("second", concurrency=2, extra_env=feeds)
        nightly = nightlies(pg_url)[0]
        final = cluster.wait_run(nightly[0], timeout=300)
        took = time.monotonic() - t0
        after = effects(pg_url)
        runs = nightlies(pg_url)
        said = [e for e in events(tmp_path / "second.log") if e["event"] == "nightly_step_resent"]
        print(
            f"\nnightly {nightly[0]}: {final['status']}; runs of {AS_OF} {runs}; effects={after}; "
            f"re-sent {[(e['batch_run_id'], e.get('resumed')) for e in said]}; "
            f"recovered_in={took:.1f}s from the FLUSHALL"
        )
        assert final["status"] == "succeeded", final
        assert (
            runs
            == [
                (nightly[0], "nightly", "succeeded"),
                (step[0][0], "prices", "succeeded"),  # resumed: the same run, no second attempt
                *[(i, job, "succeeded") for i, job, _ in runs[2:]],
            ]
        )
        assert [job for _, job, _ in runs] == ["nightly", "prices", "mtm", "effectiveness", "postings"]
        assert [e.get("resumed") for e in said][:1] == [True]
        assert (after.snapshots, after.distinct_keys, after.duplicated, after.conflicts, after.wrong_values) == (
            N,
            N,
            0,
            0,
            0,
        )
        assert after.running == 0
        assert verify_clean(cluster)
    finally:
        client.close()
        cluster.stop_all()
        feed.close()
