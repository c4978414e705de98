"""`hedgeops_queue_messages{queue}` and `hedgeops_queue_oldest_age_seconds{queue}`: the
messages waiting in each queue a worker node consumes and how long the oldest has waited,
read from the broker when Prometheus scrapes the node (the backlog alerts of
docs/prometheus/alerts.yml), by `hedgeops check queues` and by the consumer watchdog. Read
through kombu, so the Redis transport's key prefix and priority lists count as the workers
see them. A broker that does not answer gives no sample (and one log line): the scrape
itself still answers."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

import structlog
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from tasks.base import SENT_AT_HEADER

log = structlog.get_logger(__name__)
NAME = "hedgeops_queue_messages"
AGE_NAME = "hedgeops_queue_oldest_age_seconds"

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


#: (queue names, now) -> {queue: seconds the oldest message waited, None when none waits or
#: it carries no send time}; raises when the broker cannot be read.
AgeReader = Callable[[Sequence[str], datetime], dict[str, float | None]]


def sent_time(raw: bytes | str | None) -> datetime | None:
    """The send time stamped on a message as kombu's Redis transport stores it (a JSON
    envelope whose `headers` carry the task's headers), or None."""
    if raw is None:
        return None
    try:
        stamp = json.loads(raw).get("headers", {}).get(SENT_AT_HEADER)
        return datetime.fromisoformat(stamp) if isinstance(stamp, str) else None
    except (ValueError, AttributeError, TypeError):
        return None


def broker_oldest_ages(app: Any) -> AgeReader:
    """A reader of the oldest message per queue on the broker of `app`: kombu's Redis
    transport pushes on the left and pops on the right of each priority's list, so the
    oldest is the last element of each."""

    def read(queues: Sequence[str], now: datetime) -> dict[str, float | None]:
        with app.connection_for_read() as connection:
            channel = connection.default_channel
            # kombu prefixes the commands it uses itself (LLEN, BRPOP, ...), not LINDEX.
            prefix = getattr(channel, "global_keyprefix", "") or ""
            ages: dict[str, float | None] = {}
            for queue in queues:
                sent = [
                    t
                    for pri in channel.priority_steps
                    if (t := sent_time(channel.client.lindex(prefix + channel._q_for_pri(queue, pri), -1))) is not None
                ]
                ages[queue] = max(0.0, (now - min(sent)).total_seconds()) if sent else None
            return ages

    return read


class QueueDepthCollector(Collector):
    """A gauge family read at each collect: one sample per queue of the node."""

    def __init__(
        self,
        queues: Iterable[str],
        read: DepthReader,
        ages: AgeReader | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.queues = sorted(set(queues))
        self.read = read
        self.ages = ages
        self.now = now

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(NAME, "Messages waiting in a queue the node consumes", labels=["queue"])
        if self.ages is not None:
            yield GaugeMetricFamily(AGE_NAME, "Seconds the oldest waiting message has waited", labels=["queue"])

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
        if self.ages is None or self.now is None:
            return
        ages = GaugeMetricFamily(AGE_NAME, "Seconds the oldest waiting message has waited", labels=["queue"])
        try:
            oldest = self.ages(self.queues, self.now())
        except Exception as exc:  # noqa: BLE001 - as above
            log.warning("queue_age_unread", queues=self.queues, error=str(exc))
            oldest = {}
        for queue, age in sorted(oldest.items()):
            ages.add_metric([queue], 0.0 if age is None else age)  # nothing waiting: 0
        yield ages
