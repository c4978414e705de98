"""Each queue has an exchange and a routing key of its own (real Redis): a message sent with
one queue's routing key lands in that queue only, once."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from tasks import names
from tasks.base import ROUTES
from workers.celery_app import QUEUES, celery_config
from workers.settings import load_settings

pytestmark = pytest.mark.redis


@pytest.fixture
def app(redis_url: str, redis_prefix: str) -> Any:
    from celery import Celery

    settings = load_settings(
        database_url="postgresql+psycopg://u@127.0.0.1/unused",  # a broker needs a database URL beside it
        broker_url=redis_url,
        result_backend=redis_url,
        redis_key_prefix=redis_prefix,
        mt5_terminals="t1",
    )
    app = Celery("hedgeops-queues-test", set_as_current=False)
    app.conf.update(celery_config(settings))
    yield app
    with app.connection_for_write() as conn:
        client = conn.default_channel.client  # prefixed: its keys() answers with the prefix
        for key in client.keys("*"):
            client.delete(key.decode().removeprefix(redis_prefix) if isinstance(key, bytes) else key)


def depths(app: Any, queues: list[str]) -> dict[str, int]:
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        return {q: channel._size(q) for q in queues}  # every priority's list of the queue


def test_a_routing_key_reaches_its_queue_once(app: Any) -> None:
    queues = [q.name for q in app.conf.task_queues]
    assert set(QUEUES) | {"mt5", "mt5.t1"} == set(queues)
    with app.connection_for_write() as conn:
        for queue in app.conf.task_queues:  # a worker declares them so: every binding exists
            queue(conn.default_channel).declare()
    for queue in queues:
        app.send_task("hedgeops.nightly.advance_nightly", kwargs={"run_id": 1}, exchange=queue, routing_key=queue)
        assert depths(app, queues) == {q: int(q == queue) for q in queues}, queue
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge(queue)


def test_every_queue_has_its_own_exchange_and_routing_key(app: Any) -> None:
    bindings = {(q.exchange.name, q.routing_key) for q in app.conf.task_queues}
    assert bindings == {(q.name, q.name) for q in app.conf.task_queues}


def test_every_queue_a_task_declares_is_a_named_queue_the_app_declares() -> None:
    for module in names.TASK_MODULES:  # their decorators fill ROUTES
        importlib.import_module(module)
    static = {queue for queue in ROUTES.values() if isinstance(queue, str)}  # MT5 tasks: by terminal
    assert static <= set(names.QueueName)
    assert set(names.QueueName) == {*QUEUES, names.QueueName.MT5}
    assert names.queue_of_terminal("t1") == "mt5.t1"


def test_a_node_exports_the_messages_waiting_in_each_queue_it_consumes(app: Any) -> None:
    from prometheus_client import CollectorRegistry

    from workers.queue_depth import QueueDepthCollector, broker_depths

    with app.connection_for_write() as conn:
        for queue in app.conf.task_queues:
            if queue.name in ("prices", "valuation"):
                queue(conn.default_channel).declare()
    for _ in range(3):
        app.send_task("hedgeops.nightly.advance_nightly", kwargs={"run_id": 1}, queue="valuation")
    app.send_task("hedgeops.nightly.advance_nightly", kwargs={"run_id": 1}, queue="valuation", priority=9)
    registry = CollectorRegistry()
    registry.register(QueueDepthCollector(["valuation", "prices", "mt5.t1"], broker_depths(app)))
    samples = {s.labels["queue"]: s.value for m in registry.collect() for s in m.samples}
    assert samples == {"valuation": 4, "prices": 0, "mt5.t1": 0}  # every priority's list of the queue


def test_a_node_exports_how_long_the_oldest_message_of_each_queue_waited(app: Any) -> None:
    """Sent at 10:00:00 (priority 0) and 10:01:30 (priority 9), read at 10:05:00: the
    oldest, across the queue's priority lists, waited 300 s; an empty queue exports 0."""
    from datetime import UTC, datetime

    from freezegun import freeze_time
    from prometheus_client import CollectorRegistry

    from workers.queue_depth import AGE_NAME, QueueDepthCollector, broker_depths, broker_oldest_ages

    with app.connection_for_write() as conn:
        for queue in app.conf.task_queues:
            if queue.name in ("prices", "valuation"):
                queue(conn.default_channel).declare()
    with freeze_time("2026-12-07 10:00:00"):
        app.send_task("hedgeops.nightly.advance_nightly", kwargs={"run_id": 1}, queue="valuation")
    with freeze_time("2026-12-07 10:01:30"):
        app.send_task("hedgeops.nightly.advance_nightly", kwargs={"run_id": 1}, queue="valuation", priority=9)
    read_at = datetime(2026, 12, 7, 10, 5, tzinfo=UTC)
    assert broker_oldest_ages(app)(["valuation", "prices"], read_at) == {"valuation": 300.0, "prices": None}
    registry = CollectorRegistry()
    registry.register(
        QueueDepthCollector(["valuation", "prices"], broker_depths(app), broker_oldest_ages(app), lambda: read_at)
    )
    ages = {s.labels["queue"]: s.value for m in registry.collect() if m.name == AGE_NAME for s in m.samples}
    assert ages == {"valuation": 300.0, "prices": 0.0}


def test_a_broker_that_does_not_answer_gives_no_sample_and_the_scrape_answers() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from workers.queue_depth import QueueDepthCollector

    def unreachable(queues: Any) -> dict[str, int]:
        raise ConnectionError("broker down")

    registry = CollectorRegistry()
    registry.register(QueueDepthCollector(["valuation"], unreachable))
    assert b"hedgeops_queue_messages{" not in generate_latest(registry)
