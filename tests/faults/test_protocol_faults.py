"""Scenarios 7 and 9 of the fault suite, on real processes: a pickle-serialized message on
every queue the app declares (a real `celery worker` consuming them all, its own Redis
server, PostgreSQL), and a real Flower started as the project starts it (`hedgeops flower`)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import pickle
import subprocess
import urllib.error
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import redis
from kombu import Producer
from sqlalchemy import select

from db.models import BatchRun
from tasks import names
from tests.cluster import BIN, Cluster, rows
from tests.faults.harness import OwnRedis, free_port, own_cluster, wait_until

pytestmark = pytest.mark.e2e

PICKLE = "application/x-python-serialize"
#: What the worker logs for a message of a content type it does not accept (kombu's
#: ContentDisallowed, raised before the body is decoded).
REFUSED = "Refusing to deserialize untrusted content of type pickle"
#: The terminals of the scenario: each has a queue of its own (mt5.<terminal>).
TERMINALS = "t1,t2"


class Trap:
    """Unpickled, it creates its file (pickle calls `open(path, "w")`): the file's absence
    proves the message was never deserialized."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return open, (str(self.path), "w")


def publish_pickle(app: Any, queue: Any, task: str, kwargs: dict[str, Any], trap: Path) -> str:
    """A task message of protocol 2, as Celery would send it, whose body is a pickle (with a
    trap in its embed part) published raw with the pickle content type to `queue`."""
    task_id = str(uuid.uuid4())
    message = app.amqp.as_task_v2(task_id, task, args=(), kwargs=kwargs)
    args, kwargs_, embed = message.body
    body = pickle.dumps((args, kwargs_, {**embed, "trap": Trap(trap)}), protocol=2)
    assert body.startswith(b"\x80\x02")
    with app.connection_for_write() as conn:
        Producer(conn.default_channel).publish(
            body,
            exchange=queue.exchange,
            routing_key=queue.routing_key,
            declare=[queue],
            content_type=PICKLE,
            content_encoding="binary",
            headers=message.headers,
            **message.properties,
        )
    return task_id


def refusals(log: Path) -> list[str]:
    """The worker's error events that refused a message for its content type."""
    events = (json.loads(line) for line in log.read_text(errors="replace").splitlines() if line.startswith("{"))
    return [
        e["event"]
        for e in events
        if e["level"] == "error" and e["event"].startswith(f"Received invalid task message: {REFUSED}")
    ]


def runs_of(url: str, column: Any, values: list[Any]) -> list[Any]:
    return rows(url, select(BatchRun.id, column, BatchRun.status).where(column.in_(values)))


def test_7_a_pickle_message_on_every_queue_is_refused(pg_url: str, tmp_path: Path, redis_server: OwnRedis) -> None:
    cluster = own_cluster(pg_url, tmp_path, redis_server.url, HEDGEOPS_MT5_TERMINALS=TERMINALS)
    queues = list(cluster.app.conf.task_queues)  # every queue the app declares, as a worker would
    names_ = [q.name for q in queues]
    assert {"prices", "valuation", "mt5", "mt5.t1", "mt5.t2"} <= set(names_), names_
    prefix = cluster.env["HEDGEOPS_REDIS_KEY_PREFIX"]
    try:
        worker = cluster.worker("w", queues=",".join(names_), concurrency=1)
        traps = {q.name: tmp_path / f"unpickled-{q.name}.trap" for q in queues}
        pickled: dict[str, str] = {}
        served: dict[str, str] = {}
        # Per queue: a pickle message of the prices fetch (executed, it would leave a run of
        # its date in the ledger), then a JSON message of the same task for another date.
        for i, queue in enumerate(queues):
            bad_day, good_day = dt.date(2026, 10, 1) + dt.timedelta(i), dt.date(2026, 9, 1) + dt.timedelta(i)
            pickled[queue.name] = publish_pickle(
                cluster.app, queue, names.FETCH_SETTLEMENT_PRICES, {"as_of": bad_day.isoformat()}, traps[queue.name]
            )
            served[queue.name] = cluster.app.send_task(
                names.FETCH_SETTLEMENT_PRICES, kwargs={"as_of": good_day.isoformat()}, queue=queue.name
            ).id

        def ended() -> bool:
            done = runs_of(pg_url, BatchRun.task_id, list(served.values()))
            return len(done) == len(queues) and all(status != "running" for _, _, status in done)

        wait_until(ended, 60, "the JSON task of every queue")
        client = redis.Redis.from_url(redis_server.url)
        wait_until(
            lambda: all(client.llen(f"{prefix}{q}") == 0 for q in names_) and client.hlen(f"{prefix}unacked") == 0,
            30,
            "every queue drained and nothing unacked",
        )
        refused = refusals(tmp_path / "w.log")
        ran = runs_of(pg_url, BatchRun.task_id, list(pickled.values()))
        bad_dates = runs_of(
            pg_url, BatchRun.as_of_date, [dt.date(2026, 10, 1) + dt.timedelta(i) for i in range(len(queues))]
        )
        good = {status for _, _, status in runs_of(pg_url, BatchRun.task_id, list(served.values()))}
        print(
            f"\n{len(queues)} queues {names_}: {len(refused)} refused, pickle runs {ran + bad_dates}, JSON runs {good}"
        )
        assert ran == [] and bad_dates == []  # not executed
        assert [q for q, trap in traps.items() if trap.exists()] == []  # never unpickled
        # The worker said so, once per message (the event quotes the body: the trap's path names the queue).
        assert len(refused) == len(queues)
        assert all(sum(trap.name in event for event in refused) == 1 for trap in traps.values())
        assert good == {"succeeded"}  # the JSON task after it was served on every queue
        assert worker.poll() is None  # still alive, and it still serves
        assert (
            cluster.app.send_task(names.FETCH_SETTLEMENT_PRICES, kwargs={"as_of": "2026-08-01"}, queue="prices").get(
                timeout=60
            )["status"]
            == "succeeded"
        )
    finally:
        cluster.stop_all()


# Scenario 9 --------------------------------------------------------------------------------

USER, PASSWORD = "ops", "fl0wer-s3cret"
#: Flower started by hand on the app, not through `hedgeops flower`.
BY_HAND = [str(BIN / "celery"), "-A", "workers.celery_app", "flower"]


def http(url: str, auth: tuple[str, str] | None = None, data: bytes | None = None) -> int:
    """The status of a GET (or, with `data`, a JSON POST), with basic auth when given."""
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if auth is not None:
        request.add_header("Authorization", "Basic " + base64.b64encode(":".join(auth).encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def worker_name(cluster: Cluster) -> str:
    answers = cluster.app.control.ping(timeout=2)
    assert len(answers) == 1, answers
    return str(next(iter(answers[0])))


def flower_views(worker: str, task_id: str) -> list[str]:
    """Every page and API view of Flower that shows workers or tasks (the ones that act on
    them are POSTs: the task API is checked on its own)."""
    table = urllib.parse.urlencode(
        {"draw": 1, "start": 0, "length": 10, "order[0][column]": 0, "columns[0][data]": "name", "order[0][dir]": "asc"}
    )
    return [
        "/",
        "/workers",
        f"/worker/{worker}",
        "/tasks",
        f"/tasks/datatable?{table}",
        f"/task/{task_id}",
        "/broker",
        "/api/workers",
        "/api/tasks",
        "/api/task/types",
        f"/api/task/info/{task_id}",
        f"/api/task/result/{task_id}",
        "/api/queues/length",
    ]


def wait_flower(flower: subprocess.Popen[bytes], base: str, log: Path) -> None:
    """Until Flower's health check answers (its log if it exits first)."""

    def up() -> bool:
        assert flower.poll() is None, log.read_text(errors="replace")
        try:
            return http(f"{base}/healthcheck") == 200
        except OSError:
            return False

    wait_until(up, 60, "Flower to answer")


def flower_cluster(pg_url: str, tmp_path: Path, broker: str) -> Cluster:
    cluster = own_cluster(pg_url, tmp_path, broker)
    cluster.env = {k: v for k, v in cluster.env.items() if not k.startswith(("HEDGEOPS_FLOWER_", "FLOWER_"))}
    return cluster


#: The line `hedgeops flower` prints when it refuses, and the app's when Flower is started by hand.
BY_LAUNCHER = (
    "hedgeops: refusing to start Flower without credentials: set HEDGEOPS_FLOWER_USER and "
    "HEDGEOPS_FLOWER_PASSWORD (or pass --insecure-dev on a laptop)"
)
BY_APP = (
    "hedgeops: refusing to start Flower without credentials: start it with `hedgeops flower` "
    "(HEDGEOPS_FLOWER_USER and HEDGEOPS_FLOWER_PASSWORD) or set FLOWER_BASIC_AUTH"
)
#: (argv, environment, the line): `hedgeops flower` with none of our credentials (Flower's own
#: variable does not count: the launcher sets it from ours), with a user and a blank password
#: (compose's `${FLOWER_PASSWORD:-}` unset); Flower started by hand on the app with nothing, or
#: with blank credentials.
REFUSALS = [
    ([str(BIN / "hedgeops"), "flower"], {"FLOWER_BASIC_AUTH": f"{USER}:{PASSWORD}"}, BY_LAUNCHER),
    ([str(BIN / "hedgeops"), "flower"], {"HEDGEOPS_FLOWER_USER": USER, "HEDGEOPS_FLOWER_PASSWORD": ""}, BY_LAUNCHER),
    (BY_HAND, {}, BY_APP),
    ([*BY_HAND, "--basic-auth="], {"FLOWER_BASIC_AUTH": ""}, BY_APP),
]


def test_9_flower_without_credentials_refuses_to_start(pg_url: str, tmp_path: Path) -> None:
    cluster = flower_cluster(pg_url, tmp_path, "redis://127.0.0.1:1/0")  # refused before any connection
    port = free_port()

    def start(case: tuple[list[str], dict[str, str], str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*case[0], f"--port={port}"],
            env={**cluster.env, **case[1]},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    with ThreadPoolExecutor(len(REFUSALS)) as pool:
        results = list(pool.map(start, REFUSALS))
    for (argv, env, line), result in zip(REFUSALS, results, strict=True):
        assert (result.returncode, result.stderr.strip().splitlines()) == (2, [line]), (argv, env, result.stderr)
        assert "Traceback" not in result.stdout + result.stderr
    with pytest.raises(OSError):  # nothing listens
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)


def test_9_flower_with_credentials_answers_401_without_them(
    pg_url: str, tmp_path: Path, redis_server: OwnRedis
) -> None:
    cluster = flower_cluster(pg_url, tmp_path, redis_server.url)
    env = {**cluster.env, "HEDGEOPS_FLOWER_USER": USER, "HEDGEOPS_FLOWER_PASSWORD": PASSWORD}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "flower.log"
    flower = subprocess.Popen(
        [str(BIN / "hedgeops"), "flower", "--port", str(port)],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    cluster.procs.append(flower)
    try:
        worker = cluster.worker("w", queues="prices", concurrency=1)

        wait_flower(flower, base, log)
        task_id = cluster.app.send_task(names.FETCH_SETTLEMENT_PRICES, kwargs={"as_of": "2026-11-20"}).id
        wait_until(
            lambda: http(f"{base}/api/task/info/{task_id}", (USER, PASSWORD)) == 200, 60, "Flower to see the task"
        )
        answers = {
            view: (
                http(base + view),
                http(base + view, (USER, "wrong")),
                http(base + view, ("other", PASSWORD)),
                http(base + view, (USER, PASSWORD)),
            )
            for view in flower_views(worker_name(cluster), task_id)
        }
        print(f"\nFlower answers (none, wrong password, wrong user, right): {answers}")
        assert {view: codes for view, codes in answers.items() if codes != (401, 401, 401, 200)} == {}
        # The health check stays open; Prometheus counters name workers and tasks, so they ask for
        # the same credentials as the rest (issue 21 point 8), and carry no task id or argument.
        assert http(f"{base}/healthcheck") == 200
        assert (http(f"{base}/metrics"), http(f"{base}/metrics", (USER, "wrong"))) == (401, 401)
        request = urllib.request.Request(f"{base}/metrics")
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode())
        metrics = urllib.request.urlopen(request, timeout=10).read().decode()
        assert task_id not in metrics and "2026-11-20" not in metrics
        # A task sent through the API without credentials is refused and never queued (no worker
        # consumes it now: whatever Flower sends stays in the queue to be counted).
        cluster.stop(worker)
        queued = cluster.env["HEDGEOPS_REDIS_KEY_PREFIX"] + "prices"
        client = redis.Redis.from_url(redis_server.url)
        apply, body = f"{base}/api/task/async-apply/{names.FETCH_SETTLEMENT_PRICES}", b'{"kwargs": {}}'
        assert (http(apply, None, body), http(apply, (USER, "wrong"), body), client.llen(queued)) == (401, 401, 0)
        assert (http(apply, (USER, PASSWORD), body), client.llen(queued)) == (200, 1)
    finally:
        cluster.stop_all()
    text = log.read_text(errors="replace")
    assert PASSWORD not in text and "Traceback" not in text


@pytest.mark.parametrize(
    "argv, locked",
    [
        ([*BY_HAND, f"--basic-auth={USER}:{PASSWORD}"], True),
        ([str(BIN / "hedgeops"), "flower", "--insecure-dev"], False),
    ],
    ids=["by-hand-with-basic-auth", "insecure-dev"],
)
def test_9_flower_asked_for_starts(
    pg_url: str, tmp_path: Path, redis_server: OwnRedis, argv: list[str], locked: bool
) -> None:
    """Credentials given to Flower itself, or an open Flower asked for (`--insecure-dev`): it starts."""
    cluster = flower_cluster(pg_url, tmp_path, redis_server.url)
    port = free_port()
    log = tmp_path / "flower.log"
    flower = subprocess.Popen(
        [*argv, f"--port={port}"],
        env=cluster.env,
        cwd=tmp_path,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    cluster.procs.append(flower)
    try:
        wait_flower(flower, f"http://127.0.0.1:{port}", log)
        tasks = f"http://127.0.0.1:{port}/tasks"
        assert (http(tasks), http(tasks, (USER, PASSWORD))) == ((401, 200) if locked else (200, 200))
    finally:
        cluster.stop_all()
