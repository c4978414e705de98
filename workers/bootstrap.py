"""Wiring: settings -> adapters -> the tasks' bundles of ports. Called once per process
(worker, beat, CLI); the database engine itself is made lazily, after fork.

Each domain gets its own bundle: the shared one (unit of work, clock, run locks, run
observer, prices and ledger settings), the hedge-accounting one and the MT5 one. A task
resolves its bundles once at its entry and passes them down (cosmicpython's bootstrap)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import redis

from core.mt5.accounts import CYCLE_FAMILY
from core.ports import DeliveryCounter, LocalDeliveryCounter, Notifier, RunLock
from db.engine import database_fingerprint, session_factory
from db.uow import SqlAlchemyUnitOfWork
from tasks import ports as shared_room
from tasks.base import DATABASE
from tasks.hedging import ports as hedging_room
from tasks.hedging.ports import HedgingPorts
from tasks.mt5 import ports as mt5_room
from tasks.mt5.ports import Mt5Ports
from tasks.ports import Ports, utc_now
from workers.adapters.locks import NoRunLock, RedisDeliveryCounter, RedisRunLock
from workers.adapters.notifiers import build_notifier
from workers.adapters.sources import build_sources, ecb_crosses
from workers.metrics import default_run_observer
from workers.mt5_wiring import cycle_policy, mt5_bundle, process_clock
from workers.reports.hook import morning_pack_writer
from workers.settings import Settings


@dataclass(frozen=True)
class Bundles:
    """The three bundles of a process, as built from its settings."""

    shared: Ports
    hedging: HedgingPorts
    mt5: Mt5Ports


def redis_client(url: str, settings: Settings) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_timeout=settings.redis_socket_timeout,
        socket_connect_timeout=settings.redis_socket_timeout,
        socket_keepalive=True,
        health_check_interval=30,
        retry_on_timeout=True,
    )


def build_bundles(settings: Settings) -> Bundles:
    lock_client = redis_client(settings.broker_url, settings) if settings.broker_url else None
    notifier = build_notifier(settings)  # one for the guard's alerts and the late nightly's
    shared = build_shared(settings, lock_client, notifier)
    return Bundles(
        shared,
        HedgingPorts(settings.hedging_policy(), settings.chart(), settings.postings_chunk_size),
        mt5_bundle(settings, notifier),
    )


def build_shared(settings: Settings, lock_client: redis.Redis | None, notifier: Notifier) -> Ports:
    url = settings.database_url

    def unit_of_work() -> SqlAlchemyUnitOfWork:
        # session_factory() looks the engine up per process, so a forked worker makes its own.
        return SqlAlchemyUnitOfWork(session_factory(url))

    lock: RunLock = NoRunLock()
    deliveries: DeliveryCounter = LocalDeliveryCounter()
    if lock_client is not None:
        deliveries = RedisDeliveryCounter(lock_client, prefix=settings.redis_key_prefix)
        # The lock lives as long as the run shows signs of life: each heartbeat extends it, and a
        # run silent for chunk_resend_after (minutes) lets it lapse (the ledger's guard stays).
        lock = RedisRunLock(lock_client, settings.chunk_resend_after, prefix=settings.redis_key_prefix)
    return Ports(
        uow=unit_of_work,
        run_lock=lock,
        price_sources=build_sources(settings, utc_now),
        d1_policy=settings.d1_policy,
        chunk_size=settings.mtm_chunk_size,
        mtm_in_database=settings.mtm_in_database,
        stale_after=settings.stale_after,
        family_policies={CYCLE_FAMILY: cycle_policy(settings, lock_client)},
        chunk_resend_after=timedelta(seconds=settings.chunk_resend_after),
        clock=process_clock(settings, utc_now),  # the wall clock, or a simulator test's
        symbol_calendars={k: v.value for k, v in settings.symbol_calendars.items()},
        date_window=settings.date_window,
        run_observer=default_run_observer(),
        nightly_at=settings.nightly_at,
        nightly_deadline=timedelta(minutes=settings.nightly_deadline_minutes),
        nightly_calendar=settings.nightly_calendar.value,
        notifier=notifier,
        ecb_crosses=ecb_crosses(settings),
        deliveries=deliveries,
        foreign_requeues=settings.foreign_message_requeues,
        price_checks=settings.price_checks(),
        nightly_ended=morning_pack_writer(settings),
    )


def configure(bundles: Bundles) -> None:
    """Hand each room its bundle: the only place they are set."""
    configure_rooms(bundles.shared, bundles.hedging, bundles.mt5)


def configure_rooms(
    shared: Ports | None = None, hedging: HedgingPorts | None = None, mt5: Mt5Ports | None = None
) -> None:
    """Hand the given bundles to their rooms (tests and tools swap one and keep the others)."""
    if shared is not None:
        shared_room.configure(shared)
    if hedging is not None:
        hedging_room.configure(hedging)
    if mt5 is not None:
        mt5_room.configure(mt5)


def bootstrap(settings: Settings) -> Bundles:
    bundles = build_bundles(settings)
    DATABASE["fingerprint"] = database_fingerprint(settings.database_url)
    configure(bundles)
    return bundles
