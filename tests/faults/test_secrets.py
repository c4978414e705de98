"""Scenario 8 of the fault suite: canary secrets, each a distinct string, in the database
URL (PostgreSQL's trust auth takes any password), the broker URL (a Redis server of the
scenario's own that requires the canary as its password), two HTTP price source URLs (a
local server answering 500, and one whose answer echoes the source's password in an error
text), an MT5 account's password (and the terminal's error texts: one with a
`password=...` in it, one echoing the account's password), a task argument and an
exception text. Real worker, beat and Flower processes and CLI commands, distributed and
embedded, run; then no canary may be in any of their output or log files, in any column of
any table, in any value of the Redis server, or in Flower's task views."""

from __future__ import annotations

import base64
import json
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from core.mt5.accounts import AccountSpec
from db.engine import dispose_all, session_factory
from db.mt5.accounts import add_account
from tests.builders import contract, contracts_csv, prices_csv
from tests.cluster import BIN
from tests.faults.harness import AS_OF, free_port, own_cluster, wait_until
from tests.mt5 import SYMBOLS, account, position

pytestmark = pytest.mark.e2e

CANARIES = {
    "database URL": "canary-db-7f3a",
    "broker URL": "canary-broker-51c9",
    "HTTP source URL (500)": "canary-http-a2e8",
    "HTTP source URL (echoed)": "canary-echo-93b0",
    "MT5 password": "canary-mt5-c4d1",
    "task argument": "canary-arg-0b7e",
    "exception text": "canary-exc-d85f",
    "Flower password": "canary-flower-6e21",
}
DB, BROKER, HTTP, ECHO = (
    CANARIES[k] for k in ("database URL", "broker URL", "HTTP source URL (500)", "HTTP source URL (echoed)")
)
MT5, ARG, EXC, FLOWER = (CANARIES[k] for k in ("MT5 password", "task argument", "exception text", "Flower password"))
FETCH, MTM = "hedgeops.prices.fetch_settlement_prices", "hedgeops.valuation.compute_mtm_snapshots"


class Feed(BaseHTTPRequestHandler):
    """`/down`: 500. `/echo`: a 200 whose error text repeats the password it was sent."""

    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        auth = self.headers.get("Authorization", "")
        password = base64.b64decode(auth.removeprefix("Basic ")).decode().partition(":")[2] if auth else ""
        Feed.seen.append(password)
        if self.path.startswith("/down"):
            self._answer(500, b"upstream is down")
        else:
            body = {"prices": [], "published_at": f"access denied for feed:{password} (try again later)"}
            self._answer(200, json.dumps(body).encode(), "application/json")

    def _answer(self, code: int, body: bytes, kind: str = "text/plain") -> None:
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        return None


@pytest.fixture
def feed() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Feed)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()


@pytest.fixture
def locked_redis(tmp_path: Path) -> Iterator[str]:
    """A redis-server of our own whose password is the broker canary (the shared one would
    take any password, so a URL's password would prove nothing)."""
    port = free_port()
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(tmp_path),
            "--save",
            "",
            "--appendonly",
            "no",
            "--requirepass",
            BROKER,
        ],
        stdout=(tmp_path / "redis.log").open("ab"),
        stderr=subprocess.STDOUT,
    )
    url = f"redis://:{BROKER}@127.0.0.1:{port}/0"
    try:
        wait_until(lambda: _pings(url), 20, "redis-server")
        with pytest.raises(redis.exceptions.AuthenticationError):
            redis.Redis(port=port, password="wrong").ping()
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _pings(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
    except redis.exceptions.ConnectionError:
        return False


def scenario() -> dict[str, Any]:
    """Account 7001's terminal fails once with a `password=...` in its error text, 7002's
    once with its own password in it: the retry of the chunk syncs both."""
    first = account(
        7001,
        positions=[position(70011)],
        password=MT5,
        faults=[{"call": "positions_get", "message": f"IPC failed, password={EXC}"}],
    )
    second = account(
        7002,
        positions=[position(70021)],
        password=MT5,
        faults=[{"call": "positions_get", "message": f"terminal rejected {MT5}"}],
    )
    return {"symbols": SYMBOLS, "accounts": [first, second]}


def test_8_no_canary_secret_leaves_a_process(pg_url: str, tmp_path: Path, locked_redis: str, feed: int) -> None:
    started = time.monotonic()
    db_url = make_url(pg_url).set(password=DB).render_as_string(hide_password=False)
    sources = [
        {"name": "vendor_csv", "kind": "drop_folder", "symbols": ["LME-*"]},
        {
            "name": "feed_down",
            "kind": "http_json",
            "symbols": ["LME-*"],
            "retries": 1,
            "timeout": 5,
            "url": f"http://feed:{HTTP}@127.0.0.1:{feed}/down",
        },
        {
            "name": "feed_echo",
            "kind": "http_json",
            "symbols": ["LME-*"],
            "retries": 0,
            "timeout": 5,
            "url": f"http://feed:{ECHO}@127.0.0.1:{feed}/echo",
        },
    ]
    (tmp_path / "scenario.json").write_text(json.dumps(scenario()))
    (tmp_path / "sources.json").write_text(json.dumps(sources))
    cluster = own_cluster(
        db_url,
        tmp_path,
        locked_redis,
        HEDGEOPS_PRICE_SOURCES_FILE=str(tmp_path / "sources.json"),
        HEDGEOPS_MT5_SCENARIO=str(tmp_path / "scenario.json"),
        HEDGEOPS_MT5_TERMINALS="t1",
        HEDGEOPS_MT5_SYNC_EVERY="600",
        MT5_PW=MT5,
        HEDGEOPS_FLOWER_USER="ops",
        HEDGEOPS_FLOWER_PASSWORD=FLOWER,
        HEDGEOPS_LOG_LEVEL="INFO",
    )
    seed(db_url, tmp_path / "incoming")
    outputs: dict[str, str] = {}

    def cli(name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """`hedgeops ARGS`, or `celery -A workers.celery_app call ...`; its output kept."""
        command = [str(BIN / "celery"), "-A", "workers.celery_app"] if args[0] == "call" else [str(BIN / "hedgeops")]
        result = subprocess.run(
            [*command, *args],
            env=env or cluster.env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
            cwd=tmp_path,
        )
        outputs[f"cli {name} (stdout)"], outputs[f"cli {name} (stderr)"] = result.stdout, result.stderr
        return result

    flower_port = free_port()
    flower = subprocess.Popen(
        [str(BIN / "hedgeops"), "flower", "--port", str(flower_port)],
        env=cluster.env,
        stdout=(tmp_path / "flower.log").open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    cluster.procs.append(flower)
    auth = ("ops", FLOWER)
    try:
        cluster.worker("worker", queues="prices,valuation,mt5,mt5.t1")
        cluster.start("beat", "-s", str(tmp_path / "schedule"), "--loglevel", "INFO", name="beat")
        wait_until(
            lambda: bool(json.loads(get(flower_port, "/api/workers", auth)[1] or "{}")), 60, "Flower to see the worker"
        )

        # Distributed: CLI and `celery call` send, the worker runs; Flower's API sends too.
        called = flower_apply(flower_port, auth, MTM, {"as_of": f"token={EXC}"})  # an exception text with a secret
        with ThreadPoolExecutor(3) as pool:
            prices, sync, celery_call = pool.map(
                lambda args: cli(*args),
                [
                    ("run prices", "run", "prices", "--as-of", AS_OF, "--wait", "--json", "--timeout", "120"),
                    ("run mt5-sync", "run", "mt5-sync", "--wait", "--json", "--timeout", "120"),
                    ("celery call", "call", FETCH, "--kwargs", json.dumps({"as_of": AS_OF, "password": ARG})),
                ],
            )
        assert json.loads(prices.stdout)["status"] == "completed_with_exceptions", prices.stdout + prices.stderr
        assert json.loads(sync.stdout)[0]["status"] == "succeeded", sync.stdout + sync.stderr  # after the retry
        assert celery_call.returncode == 0, celery_call.stderr
        failed = [called, celery_call.stdout.strip().splitlines()[-1]]
        for task_id in failed:
            wait_until(
                lambda task_id=task_id: cluster.app.AsyncResult(task_id).state == "FAILURE",
                60,
                f"task {task_id} to fail",
            )

        # Embedded: in-process, the 500 source's errors and retries in the CLI's own log.
        embedded = {k: v for k, v in cluster.env.items() if k not in ("HEDGEOPS_BROKER_URL", "HEDGEOPS_RESULT_BACKEND")}
        with ThreadPoolExecutor(2) as pool:
            list(
                pool.map(
                    lambda args: cli(*args, env=embedded),
                    [
                        ("embedded run prices", "run", "prices", "--in-process", "--as-of", "2026-11-23"),
                        ("embedded run mt5-sync", "run", "mt5-sync", "--in-process"),
                    ],
                )
            )

        # What people read.
        prices_run, cycle = json.loads(prices.stdout)["batch_run_id"], json.loads(sync.stdout)[0]["batch_run_id"]
        with ThreadPoolExecutor(3) as pool:
            list(
                pool.map(
                    lambda args: cli(" ".join(args), *args),
                    [
                        ["status"],
                        ["status", "--json"],
                        ["mt5", "cycles", "--json"],
                        ["runs", "show", str(prices_run)],
                        ["runs", "show", str(prices_run), "--json"],
                        ["runs", "show", str(cycle)],
                    ],
                )
            )

        # Flower's views of every task it saw.
        code, body = get(flower_port, "/api/tasks", auth)
        assert code == 200, body
        outputs["flower /api/tasks"] = body
        tasks = json.loads(body)
        assert set(failed) <= set(tasks), "Flower saw the failed tasks"
        for task_id in tasks:
            outputs[f"flower /task/{task_id}"] = get(flower_port, f"/task/{task_id}", auth)[1]
            outputs[f"flower /api/task/info/{task_id}"] = get(flower_port, f"/api/task/info/{task_id}", auth)[1]
            outputs[f"flower /api/task/result/{task_id}"] = get(flower_port, f"/api/task/result/{task_id}", auth)[1]
        redis_values = redis_text(locked_redis)
    finally:
        cluster.stop_all()
        dispose_all()
    for log in sorted(tmp_path.glob("*.log")):
        outputs[f"log {log.name}"] = log.read_text(errors="replace")

    assert {HTTP, ECHO} <= set(Feed.seen)  # the feed was sent both URL passwords
    leaks = [
        (canary, where, excerpt(value, secret))
        for where, value in {**outputs, **redis_values, **table_text(db_url)}.items()
        for canary, secret in CANARIES.items()
        if secret in value
    ]
    print(f"\nscanned {len(outputs)} outputs, {len(redis_values)} Redis keys; {time.monotonic() - started:.1f}s")
    assert not leaks, "\n".join(f"{c} in {w}: {e}" for c, w, e in leaks)
    # The secrets' carriers reached the logs and Flower redacted (not lost): the terminal's
    # texts, the echoing feed's, the failing feed's URL in the embedded CLI, the arguments.
    worker, embedded_prices = outputs["log worker.log"], outputs["cli embedded run prices (stderr)"]
    assert "IPC failed, password=***" in worker and "terminal rejected ***" in worker
    assert "access denied for feed:***" in worker
    assert '"event": "price_source_failed"' in embedded_prices and "http://feed:***@127.0.0.1" in embedded_prices
    assert "'password': '***'" in outputs["flower /api/tasks"]
    assert "'as_of': 'token=***'" in outputs["flower /api/tasks"]


def seed(url: str, drop: Path) -> None:
    """Three LME-AL contracts and their D-1 price; two MT5 accounts whose password is in
    the worker's environment (MT5_PW)."""
    from tasks.loading import load_contracts_csv

    load_contracts_csv(contracts_csv(*(contract(f"K{i}") for i in range(3))), "book.csv")
    (drop / "p.csv").write_text(prices_csv(("LME-AL", "2026-11-19", "2510.125")))
    now = datetime.now(UTC)
    with session_factory(url)() as s:
        for login in (7001, 7002):
            add_account(
                s,
                AccountSpec(
                    login=login,
                    server="Sim-Demo",
                    terminal="t1",
                    currency="USD",
                    magic_numbers=(7,),
                    credential_ref="env:MT5_PW",
                ),
                now=now,
            )
        s.commit()


def flower_apply(port: int, auth: tuple[str, str], task: str, kwargs: dict[str, Any]) -> str:
    """Send a task through Flower's API (what an operator's script does): its id."""
    code, body = get(port, f"/api/task/async-apply/{task}", auth, json.dumps({"kwargs": kwargs}).encode())
    assert code == 200, body
    return str(json.loads(body)["task-id"])


def get(port: int, path: str, auth: tuple[str, str], data: bytes | None = None) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data)
    request.add_header("Authorization", "Basic " + base64.b64encode(":".join(auth).encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status), answer.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, ""


def table_text(url: str) -> dict[str, str]:
    """Every row of every table of the schema as text (a whole-row cast: every column, text,
    JSON or other, of a table added later too), by table."""
    engine = create_engine(url)
    found: dict[str, str] = {}
    with engine.connect() as conn:
        tables = [
            t
            for (t,) in conn.execute(
                text(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
                    "AND table_type = 'BASE TABLE'"
                )
            )
        ]
        assert {"batch_runs", "audit_events", "price_files"} <= set(tables)
        for table in tables:
            found[f"table {table}"] = "\n".join(r for (r,) in conn.execute(text(f'SELECT t::text FROM "{table}" AS t')))
    engine.dispose()
    return found


def redis_text(url: str) -> dict[str, str]:
    """Every key and value of the scenario's Redis (results, queues, locks, beat's keys)."""
    client = redis.Redis.from_url(url)
    found: dict[str, str] = {}
    for key in client.scan_iter(count=1000):
        kind = client.type(key).decode()
        value: Any = {
            "string": lambda key=key: client.get(key),
            "list": lambda key=key: client.lrange(key, 0, -1),
            "hash": lambda key=key: client.hgetall(key),
            "set": lambda key=key: client.smembers(key),
            "zset": lambda key=key: client.zrange(key, 0, -1),
        }.get(kind, lambda: b"")()
        found[f"redis {key.decode(errors='replace')}"] = key.decode(errors="replace") + " " + str(value)
    client.close()
    return found


def excerpt(value: str, secret: str) -> str:
    at = value.index(secret)
    return value[max(0, at - 150) : at + len(secret) + 60].replace("\n", "\\n")
