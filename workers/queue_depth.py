"""`hedgeops_queue_messages{queue}`: the messages waiting in each queue a worker node
consumes, read from the broker when Prometheus scrapes the node (the backlog alert of
docs/prometheus/alerts.yml). Read through kombu, so the Redis transport's key prefix and
priority lists count as the workers see them. A broker that does not answer gives no
sample (and one log line): the scrape itself still answers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import structlog
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = structlog.get_logger(__name__)
NAME = "hedgeops_queue_messages"

#: Queue names -> {queue: messages waiting}; raises when the broker cannot be read.
DepthReader = Callable[[Sequence[str]], dict[str, int]]


def broker_depths(app: Any) -> DepthReader:
    """A reader of the broker of `app` (a Celery app): one connection per scrape."""

    def read(queues: Sequence[str]) -> dict[str, int]:
        with app.connection_for_read() as connection:
            channel = connection.default_channel
            # Not passive: kombu's Redis transport calls a queue without a message "not
            # found". Declaring one creates nothing in Redis; its size is every priority's list.
            return {q: int(channel.queue_declare(queue=q).message_count) for q in queues}

    return read


class QueueDepthCollector(Collector):
    """A gauge family read at each collect: one sample per queue of the node."""

    def __init__(self, queues: Iterable[str], read: DepthReader) -> None:
        self.queues = sorted(set(queues))
        self.read = read

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(NAME, "Messages waiting in a queue the node consumes", labels=["queue"])

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(NAME, "Messages waiting in a queue the node consumes", labels=["queue"])
        try:
            depths = self.read(self.queues)
        except Exception as exc:  # noqa: BLE001 - a scrape must answer whatever the broker does
            log.warning("queue_depth_unread", queues=self.queues, error=str(exc))
            depths = {}
        for queue, count in sorted(depths.items()):
            family.add_metric([queue], count)
        yield family
