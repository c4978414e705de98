"""The worker's consumer (Celery's `worker_consumer`): Celery's own, with the parts this
project adds to how messages are taken. One class, so that each part stays in its module and
none has to know another."""

from __future__ import annotations

from workers.broker_memory import WaitsWhileBrokerFull
from workers.message_size import BoundedConsumer


class WorkerConsumer(WaitsWhileBrokerFull, BoundedConsumer):
    """Waits while the broker refuses writes for memory before it takes anything
    (workers.broker_memory); sets aside unread a message over the size limit
    (workers.message_size)."""
