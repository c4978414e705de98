"""The app's task sender refuses a message over HEDGEOPS_MAX_MESSAGE_KB (real Redis): one
path for a trigger, `send_task`, and a group (a run's fan-out); nothing is queued. The worker's
side is fault scenario 16 (tests/faults/test_message_faults.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery, group

from tasks import names
from workers.celery_app import celery_config
from workers.message_size import MessageTooLarge, message_size
from workers.settings import load_settings

pytestmark = pytest.mark.redis

LIMIT = 1024  # HEDGEOPS_MAX_MESSAGE_KB=1


@pytest.fixture
def app(redis_url: str, redis_prefix: str) -> Iterator[Any]:
    settings = load_settings(
        database_url="postgresql+psycopg://u@127.0.0.1/unused",  # a broker needs a database URL beside it
        broker_url=redis_url,
        result_backend=redis_url,
        redis_key_prefix=redis_prefix,
        max_message_kb=1,
    )
    app = Celery("hedgeops-size-test", set_as_current=False, amqp="workers.message_size:BoundedAMQP")
    app.conf.update(celery_config(settings))
    yield app
    with app.connection_for_write() as conn:
        client = conn.default_channel.client  # prefixed: its keys() answers with the prefix
        for key in client.keys("*"):
            client.delete(key.decode().removeprefix(redis_prefix) if isinstance(key, bytes) else key)


def queued(app: Any) -> int:
    with app.connection_for_write() as conn:
        return int(conn.default_channel._size(names.QueueName.VALUATION))


class TestPublish:
    def test_a_message_under_the_limit_is_sent(self, app: Any) -> None:
        app.send_task(names.COMPUTE_MTM_SNAPSHOTS, kwargs={"as_of": "2026-11-20" + "A" * 200})
        assert queued(app) == 1

    def test_a_message_over_the_limit_is_refused_and_nothing_sent(self, app: Any) -> None:
        with pytest.raises(MessageTooLarge) as refused:
            app.send_task(names.COMPUTE_MTM_SNAPSHOTS, kwargs={"as_of": "2026-11-20" + "A" * LIMIT})
        assert queued(app) == 0
        assert str(refused.value).startswith(f"task {names.COMPUTE_MTM_SNAPSHOTS}: its message is ")
        assert str(refused.value).endswith("over the limit of 1,024 bytes (HEDGEOPS_MAX_MESSAGE_KB=1); nothing sent")
        assert refused.value.exit_code == 2  # `celery call` exits 2 with it

    def test_headers_count(self, app: Any) -> None:
        with pytest.raises(MessageTooLarge):
            app.send_task(names.COMPUTE_MTM_SNAPSHOTS, kwargs={"as_of": "2026-11-20"}, headers={"note": "N" * LIMIT})
        assert queued(app) == 0

    def test_a_group_is_refused_at_its_large_member(self, app: Any) -> None:
        """A run's fan-out is a group of chunk messages: sent through the same sender."""
        chunks = [
            app.signature(names.COMPUTE_MTM_CHUNK, kwargs={"run_id": 1, "chunk_no": no, "contract_ids": ids})
            for no, ids in enumerate([[1, 2, 3], list(range(1000))])
        ]
        with pytest.raises(MessageTooLarge):
            group(chunks).apply_async()
        assert queued(app) == 1  # the first, small chunk went; the large one did not


@pytest.mark.parametrize(
    ("body", "headers", "size"),
    [
        (b"[[], {}, {}]", {}, 12 + 2),
        ("é", None, 2),  # a text body counts its UTF-8 bytes; headers that are no mapping count nothing
        (b"", {"argsrepr": "é"}, len('{"argsrepr": "\\u00e9"}')),  # JSON-escaped: 6 bytes for é
        (b"x" * 10, {"a": [1, 2]}, 10 + len('{"a": [1, 2]}')),
    ],
)
def test_a_message_size_is_its_body_as_carried_plus_its_headers_as_json(body: Any, headers: Any, size: int) -> None:
    assert message_size(body, headers) == size
