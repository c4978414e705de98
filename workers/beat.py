"""One beat: a lock in Redis, as RedBeat keeps one (`celery -A workers.celery_app beat`
uses this scheduler whenever there is a broker).

The beat that holds the lock sends; it renews the lock at every tick (at least every third
of `HEDGEOPS_BEAT_LOCK_TTL`), so the lock lapses that long after the beat dies. Any other
beat is a standby: it says so in one log line (`beat_standby`), sends nothing, and asks
again each third of the lifetime. When it gets the lock (`beat_active`) it first takes
the time each entry was last sent by any beat (kept in Redis beside the lock, written at
every send), so the take-over neither repeats a send nor misses a crontab time that
passed: an MT5 cycle every 30 s stays one every 30 s across the change of beat.

The schedule file (`--schedule`) is still this beat's own record, as before."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime
from typing import Any

import redis
import structlog
from celery.beat import PersistentScheduler, ScheduleEntry

from workers.adapters.locks import RedisRunLock

log = structlog.get_logger(__name__)

LOCK = "hedgeops:beat:lock"
LAST_SENT = "hedgeops:beat:last_sent"
#: Celery settings of the app the scheduler reads (workers.celery_app.celery_config).
TTL_SETTING, PREFIX_SETTING = "hedgeops_beat_lock_ttl", "hedgeops_redis_key_prefix"


class LockedScheduler(PersistentScheduler):  # type: ignore[misc]  # celery has no type hints
    """PersistentScheduler that sends only while it holds beat's lock in Redis."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        app = kwargs.get("app") or args[0]
        self._ttl = int(app.conf.get(TTL_SETTING) or 60)
        self._prefix = str(app.conf.get(PREFIX_SETTING) or "")
        self._client = redis.Redis.from_url(app.conf.broker_url, socket_timeout=10, socket_connect_timeout=10)
        self._lock = RedisRunLock(self._client, self._ttl, prefix=self._prefix)
        self._token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._active = False
        self._said_standby = self._said_unreachable = False
        super().__init__(*args, **kwargs)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        """Send what is due only while holding the lock; wake at least every third of its
        lifetime to renew it (or, as a standby, to ask for it)."""
        every = self._ttl / 3
        try:
            holds = self._holds_lock()
        except redis.RedisError as exc:  # Redis away: nothing can be sent; ask again, beat lives on
            if not self._said_unreachable:
                log.warning("beat_lock_unreachable", error=str(exc), active=self._active)
            self._said_unreachable = True
            return every
        self._said_unreachable = False
        if not holds:
            return every
        return float(min(super().tick(*args, **kwargs), every))

    def reserve(self, entry: ScheduleEntry) -> ScheduleEntry:
        """An entry about to be sent: its time is every beat's to see."""
        sent = super().reserve(entry)
        try:
            self._client.hset(self._prefix + LAST_SENT, entry.name, sent.last_run_at.isoformat())
        except redis.RedisError as exc:  # the send itself says whether the broker is away
            log.warning("beat_last_sent_not_kept", entry=entry.name, error=str(exc))
        return sent

    def close(self) -> None:
        try:
            if self._active:
                self._lock.release(LOCK, self._token)
            self._client.close()
        except redis.RedisError:
            pass  # the lock lapses by itself
        finally:
            super().close()

    def _holds_lock(self) -> bool:
        if self._active:
            if self._renewed():
                return True
            self._active, self._said_standby = False, False
            log.warning("beat_lock_lost", lock_ttl=self._ttl, holder=self._lock.holder(LOCK))
        if self._lock.acquire(LOCK, self._token):
            self._take_over()
            return True
        if not self._said_standby:
            self._said_standby = True
            log.warning("beat_standby", holder=self._lock.holder(LOCK), lock_ttl=self._ttl)
        return False

    def _renewed(self) -> bool:
        self._lock.refresh(LOCK, self._token)
        return self._lock.holder(LOCK) == self._token

    def _take_over(self) -> None:
        """Active: each entry's last send is the latest any beat made."""
        self._active = True
        shared = {_text(k): _text(v) for k, v in self._client.hgetall(self._prefix + LAST_SENT).items()}
        for name, entry in self.schedule.items():
            raw = shared.get(name)
            if raw is not None and _later(sent := datetime.fromisoformat(raw), entry.last_run_at):
                entry.last_run_at = sent
        self._heap = None  # rebuilt from the times above at this tick
        self.sync()
        log.info("beat_active", beat=self._token, lock_ttl=self._ttl, entries=sorted(self.schedule))


def _later(sent: datetime, last: datetime | None) -> bool:
    """`sent` is after `last` (a schedule file of an older Celery may hold naive UTC times)."""
    if last is None:
        return True
    if last.tzinfo is None:
        last = last.replace(tzinfo=sent.tzinfo)
    return sent > last


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
