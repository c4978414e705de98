"""Wiring: settings -> adapters -> the tasks' Runtime. Called once per process (worker,
beat, CLI); the database engine itself is made lazily, after fork."""

from __future__ import annotations

from datetime import timedelta

import redis

from core.ports import RunLock
from db.engine import database_fingerprint, session_factory
from db.uow import SqlAlchemyUnitOfWork
from tasks.base import DATABASE
from tasks.runtime import Runtime, configure, utc_now
from workers.adapters.locks import NoRunLock, RedisRunLock
from workers.adapters.mt5.wiring import mt5_ports
from workers.adapters.sources import build_sources, ecb_crosses
from workers.metrics import default_run_observer
from workers.settings import Settings


def redis_client(url: str, settings: Settings) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_timeout=settings.redis_socket_timeout,
        socket_connect_timeout=settings.redis_socket_timeout,
        socket_keepalive=True,
        health_check_interval=30,
        retry_on_timeout=True,
    )


def build_runtime(settings: Settings) -> Runtime:
    url = settings.database_url

    def unit_of_work() -> SqlAlchemyUnitOfWork:
        # session_factory() looks the engine up per process, so a forked worker makes its own.
        return SqlAlchemyUnitOfWork(session_factory(url))

    lock: RunLock = NoRunLock()
    lock_client = redis_client(settings.broker_url, settings) if settings.broker_url else None
    if lock_client is not None:
        lock = RedisRunLock(lock_client, settings.run_stale_after, prefix=settings.redis_key_prefix)
    sources = build_sources(settings, utc_now)
    return Runtime(
        uow=unit_of_work,
        price_sources=sources,
        run_lock=lock,
        d1_policy=settings.d1_policy,
        chunk_size=settings.mtm_chunk_size,
        stale_after=settings.stale_after,
        clock=utc_now,
        mtm_in_database=settings.mtm_in_database,
        chunk_resend_after=timedelta(seconds=settings.chunk_resend_after),
        symbol_calendars={k: v.value for k, v in settings.symbol_calendars.items()},
        date_window=settings.date_window,
        hedging=settings.hedging_policy(),
        ecb_crosses=ecb_crosses(settings),
        run_observer=default_run_observer(),
        nightly_at=settings.nightly_at,
        nightly_deadline=timedelta(minutes=settings.nightly_deadline_minutes),
        **mt5_ports(settings, lock_client),
    )


def bootstrap(settings: Settings) -> Runtime:
    runtime = build_runtime(settings)
    DATABASE["fingerprint"] = database_fingerprint(settings.database_url)
    configure(runtime)
    return runtime
