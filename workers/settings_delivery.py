"""The delivery settings of the pipeline: how often a message meant for another database
is given back before it is dead-lettered, the largest message sent or taken, the consumer
watchdog, and the lock that keeps beat single. A part of `workers.settings.Settings`, as
the MT5 settings (workers.settings_mt5) are."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings


class DeliverySettings(BaseSettings):
    foreign_message_requeues: int = Field(
        5,
        ge=0,
        le=100,
        description=(
            "times a worker gives back a message sent for another database before it dead-letters it "
            "(an audit row, one log line, an alert; never redelivered)"
        ),
    )
    max_message_kb: int = Field(
        64,
        ge=1,
        le=65536,
        description=(
            "largest task message (its serialized arguments and headers, KB of 1,024 bytes): a larger one is "
            "refused when sent by any process of the app, and a worker dead-letters one it takes without "
            "reading its arguments"
        ),
    )
    queue_stall_seconds: int = Field(
        300,
        ge=10,
        le=86400,
        description=(
            "a message waiting this long is stalled: `check queues` is CRITICAL (WARNING past half), and a "
            "worker holding nothing that fetched nothing for as long while its queues wait exits 70 for its "
            "supervisor to restart it (the consumer watchdog)"
        ),
    )
    watchdog_file: str | None = Field(
        None,
        description=(
            "a file the consumer watchdog touches at every healthy check (every stall/10 s, at most 30 s): "
            "a healthcheck reads its age (compose.yaml)"
        ),
    )
    beat_lock_ttl: int = Field(
        60,
        ge=3,
        le=3600,
        description=(
            "seconds beat's lock in Redis outlives its last renewal: a second beat waits as a standby and "
            "takes over within this long after the active one dies"
        ),
    )
