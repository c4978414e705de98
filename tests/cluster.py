"""Real `celery worker` (and beat) subprocesses on Redis and PostgreSQL."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from db import ledger
from db.engine import session_factory
from tasks.summary import run_summary
from tests import services

BIN = Path(sys.executable).parent
E2E_REDIS_URL = os.environ.get("HEDGEOPS_TEST_E2E_REDIS_URL", "redis://127.0.0.1:6379/14")


@dataclass
class Cluster:
    """The environment shared by the test process and its worker/beat processes."""

    env: dict[str, str]
    logs: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    app: Any = None

    def start(
        self, *args: str, name: str, extra_env: dict[str, str] | None = None, app: str = "workers.celery_app"
    ) -> subprocess.Popen[bytes]:
        """`celery -A <app> <args>`: the project's app, or a test's module around it."""
        log = (self.logs / f"{name}.log").open("ab")
        env = {**self.env, **(extra_env or {})}
        proc = subprocess.Popen(
            [str(BIN / "celery"), "-A", app, *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def worker(
        self,
        name: str,
        queues: str = "prices,valuation",
        concurrency: int = 2,
        extra_env: dict[str, str] | None = None,
        app: str = "workers.celery_app",
    ) -> subprocess.Popen[bytes]:
        node = f"{name}-{uuid.uuid4().hex[:6]}@localhost"
        proc = self.start(
            "worker",
            "-Q",
            queues,
            "-c",
            str(concurrency),
            "-n",
            node,
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            name=name,
            extra_env=extra_env,
            app=app,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"worker {name} exited {proc.returncode}: {self.log_tail(name)}")
            if self.app.control.ping(destination=[node], timeout=0.5):
                return proc
        raise RuntimeError(f"worker {name} never answered: {self.log_tail(name)}")

    def log_tail(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]

    def stop(self, proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.procs:
            self.stop(proc)

    def reset(self) -> list[str]:
        """Stop what an earlier test left running and empty the broker under this cluster's
        prefix: queued and unacked messages, run and cycle locks, results. A test ends
        when its checks pass, not when every message is spent: a duplicate still queued,
        a retry restored at shutdown, or the chunk of a pool process that `stop` killed
        mid-task (SIGTERM reaches the whole process group; Celery requeues the message)
        would else reach the next test's workers after its database was emptied (`no batch
        run 2`), and a lock released after a commit it never saw would hold its cycle.
        The exchange bindings stay: the test process declared them once and publishes by
        them. The keys removed."""
        self.stop_all()
        client = services.redis_client(self.env["HEDGEOPS_BROKER_URL"])
        prefix = self.env["HEDGEOPS_REDIS_KEY_PREFIX"].encode()
        try:
            left = [
                k
                for k in client.scan_iter(match=prefix + b"*", count=1000)
                if not k.startswith(prefix + b"_kombu.binding")
            ]
            if left:
                client.delete(*left)
        finally:
            client.close()
        return [k.decode(errors="replace") for k in left]

    def trigger(self, task: str, **kwargs: Any) -> Any:
        from celery import signature

        return signature(task, kwargs=kwargs).apply_async()

    def wait_run(self, run_id: int, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        factory = session_factory(self.env["HEDGEOPS_DATABASE_URL"])
        while True:
            with factory() as s:
                summary = run_summary(ledger.get_run(s, run_id))
            if summary["status"] != "running":
                return summary
            if time.monotonic() > deadline:
                raise AssertionError(f"run {run_id} still running after {timeout}s")
            time.sleep(0.2)

    def wait_for(self, query: Any, timeout: float = 120) -> Any:
        deadline = time.monotonic() + timeout
        factory = session_factory(self.env["HEDGEOPS_DATABASE_URL"])
        while time.monotonic() < deadline:
            with factory() as s:
                found = s.scalars(query).first()
            if found is not None:
                return found
            time.sleep(0.5)
        raise AssertionError(f"nothing found for {query} after {timeout}s")


@pytest.fixture(scope="module")
def cluster(pg_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    services.redis_client(E2E_REDIS_URL).close()
    base = tmp_path_factory.mktemp("e2e")
    (base / "incoming").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEDGEOPS_")}
    env.update(
        HEDGEOPS_DATABASE_URL=pg_database,
        HEDGEOPS_BROKER_URL=E2E_REDIS_URL,
        HEDGEOPS_RESULT_BACKEND=E2E_REDIS_URL,
        HEDGEOPS_PRICE_DROP_DIR=str(base / "incoming"),
        HEDGEOPS_DROP_SETTLE_SECONDS="0",  # the tests write whole files, then trigger at once
        HEDGEOPS_MTM_CHUNK_SIZE="7",
        HEDGEOPS_LOG_FORMAT="json",
        HEDGEOPS_NIGHTLY_ENABLED="false",
        # Every key of this run under its own prefix: parallel test runs share one Redis.
        HEDGEOPS_REDIS_KEY_PREFIX=f"hedgeops-test-{uuid.uuid4().hex[:8]}:",
    )
    from workers.celery_app import create_app
    from workers.settings import load_settings

    settings = load_settings(
        **{k.removeprefix("HEDGEOPS_").lower(): v for k, v in env.items() if k.startswith("HEDGEOPS_")}
    )
    cluster = Cluster(env=env, logs=base)
    cluster.app = create_app(settings)
    try:
        yield cluster
    finally:
        cluster.stop_all()


@pytest.fixture(autouse=True)
def fresh_broker(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test on the module's cluster starts on an empty broker (Cluster.reset), and
    leaves none of its processes running."""
    if "cluster" not in request.fixturenames:
        yield
        return
    shared: Cluster = request.getfixturevalue("cluster")
    shared.reset()
    yield
    shared.reset()


@pytest.fixture
def drop_dir(cluster: Cluster) -> Iterator[Path]:
    folder = Path(cluster.env["HEDGEOPS_PRICE_DROP_DIR"])
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    yield folder


def rows(url: str, query: Any) -> list[Any]:
    with session_factory(url)() as s:
        return list(s.execute(query))


__all__ = ["Cluster", "rows", "select"]
