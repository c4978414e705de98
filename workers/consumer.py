"""The worker's consumer (Celery's `worker_consumer`): Celery's own, with the parts this
project adds to how messages are taken. One class, so that each part stays in its module and
none has to know another."""

from __future__ import annotations

from typing import Any

from workers.broker_memory import WaitsWhileBrokerFull
from workers.message_size import BoundedConsumer
from workers.watchdog import consumer_connected


class WorkerConsumer(WaitsWhileBrokerFull, BoundedConsumer):
    """Waits while the broker refuses writes for memory before it takes anything
    (workers.broker_memory); sets aside unread a message over the size limit
    (workers.message_size); restarts the consumer watchdog's idle clock at each connection
    (workers.watchdog)."""

    def connection_for_read(self, heartbeat: Any = None) -> Any:
        conn = super().connection_for_read(heartbeat=heartbeat)
        consumer_connected()
        return conn
