"""The Celery app: `celery -A workers.celery_app worker -Q prices,valuation`.

Embedded mode (no broker URL) runs every task in-process (always eager); distributed
mode uses Redis for broker and results. JSON only, late acks, tasks re-queued when a
worker dies, and a hard time limit below the Redis visibility timeout."""

from __future__ import annotations

import gc
import os
import sys
from datetime import UTC, datetime
from typing import Any

from celery import Celery
from celery.schedules import crontab
from celery.signals import (
    before_task_publish,
    worker_init,
    worker_process_init,
    worker_process_shutdown,
    worker_shutdown,
)
from kombu.entity import Exchange, Queue

from core.redaction import remember_secrets, secrets_in
from tasks import names
from tasks.base import DATABASE, DATABASE_HEADER, SENT_AT_HEADER, route_task
from workers.logging import configure_logging, flush_retry_logs
from workers.message_size import LIMIT_SETTING
from workers.modes import node_mode
from workers.mt5_wiring import mt5_beat_schedule, mt5_queues
from workers.redacting import RedactingCelery, redact_reprs
from workers.settings import Settings, SettingsError, load_settings

#: The queues of the app's own workers (`-Q prices,valuation`); MT5 terminals have theirs.
QUEUES = (names.QueueName.PRICES, names.QueueName.VALUATION)
#: Set by `hedgeops flower --insecure-dev` only: a Flower without authentication, asked for.
FLOWER_INSECURE_DEV = "HEDGEOPS_FLOWER_INSECURE_DEV"
#: How often beat asks whether the nightly of the newest due date is late (seconds).
FRESHNESS_EVERY = 300.0


def queue(name: str) -> Queue:
    """A queue on an exchange of its own with its own routing key: a message sent with one
    routing key reaches one queue (and an MT5 queue made on demand by a worker that does
    not know the terminal is declared the same way)."""
    exchange = Exchange(name, type="direct")  # type: ignore[no-untyped-call]  # kombu's constructors are unannotated
    return Queue(name, exchange, routing_key=name)  # type: ignore[no-untyped-call]  # kombu: unannotated


def celery_config(settings: Settings) -> dict[str, Any]:
    transport = {
        "visibility_timeout": settings.visibility_timeout,
        # A killed worker's unacked messages come back after the visibility timeout, at
        # the next sweep: every `redelivery_sweep` seconds (kombu's default is ~100 s).
        "unacked_restore_interval": settings.redelivery_sweep,
        "unacked_restore_throttle": 1,
        "global_keyprefix": settings.redis_key_prefix,
        "socket_timeout": settings.redis_socket_timeout,
        "socket_connect_timeout": settings.redis_socket_timeout,
        "socket_keepalive": True,
        "health_check_interval": 30,
        "retry_on_timeout": True,
    }
    beat_schedule = {}
    if settings.nightly_enabled:
        beat_schedule["nightly"] = {
            "task": names.RUN_NIGHTLY,
            "schedule": crontab(hour=settings.nightly_at.hour, minute=settings.nightly_at.minute),
            "kwargs": {"trigger": "beat"},
            "options": {"queue": names.QueueName.VALUATION},
        }
        beat_schedule["nightly-freshness"] = {
            "task": names.CHECK_NIGHTLY_FRESHNESS,
            "schedule": FRESHNESS_EVERY,
            "options": {"queue": names.QueueName.VALUATION, "expires": FRESHNESS_EVERY},
        }
    beat_schedule["resend-stale-chunks"] = {
        "task": names.RESEND_STALE_CHUNKS,
        "schedule": float(settings.chunk_resend_sweep),
        "options": {"queue": names.QueueName.VALUATION, "expires": float(settings.chunk_resend_sweep)},
    }
    beat_schedule.update(mt5_beat_schedule(settings))
    return {
        "broker_url": settings.broker_url or "memory://localhost/",
        "result_backend": settings.result_backend or settings.broker_url,
        "task_always_eager": not settings.distributed,
        "task_eager_propagates": True,
        "task_store_eager_result": False,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "timezone": "UTC",
        "enable_utc": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "task_soft_time_limit": settings.task_soft_time_limit,
        "task_time_limit": settings.task_time_limit,
        "broker_transport_options": transport,
        "result_backend_transport_options": dict(transport),
        "redis_socket_timeout": settings.redis_socket_timeout,
        "redis_socket_connect_timeout": settings.redis_socket_timeout,
        "redis_socket_keepalive": True,
        "redis_backend_health_check_interval": 30,
        "redis_retry_on_timeout": True,
        "broker_connection_retry_on_startup": True,
        # A write the broker refuses (for memory: noeviction at maxmemory) restarts the consumer,
        # as a lost connection does, instead of ending the worker (workers.broker_memory).
        "broker_channel_error_retry": True,
        "result_expires": 7 * 24 * 3600,
        "result_extended": True,
        "task_track_started": True,
        "task_send_sent_event": True,
        "worker_send_task_events": True,
        "worker_hijack_root_logger": False,
        # Not through a logger: a traceback written to a redirected stderr is one log line per write
        # (a start-up failure became ~1,600 JSON lines, a character each).
        "worker_redirect_stdouts": False,
        "task_default_queue": names.QueueName.VALUATION,
        "task_queues": [queue(name) for name in (*QUEUES, *mt5_queues(settings))],
        "task_default_exchange": names.QueueName.VALUATION,
        "task_default_routing_key": names.QueueName.VALUATION,
        "task_routes": (route_task,),
        "beat_schedule": beat_schedule,
        # Bounded messages (workers.message_size): refused when sent, set aside unread when taken;
        # a broker full for memory waited out before a message is taken (workers.broker_memory).
        "worker_consumer": "workers.consumer:WorkerConsumer",
        LIMIT_SETTING: settings.max_message_kb * 1024,
        **beat_lock(settings),
    }


def beat_lock(settings: Settings) -> dict[str, Any]:
    """Distributed, beat sends only while it holds its lock in Redis (workers.beat): a second
    beat is a standby."""
    if not settings.broker_url:
        return {}
    from workers.beat import PREFIX_SETTING, TTL_SETTING

    return {
        "beat_scheduler": "workers.beat:LockedScheduler",
        TTL_SETTING: settings.beat_lock_ttl,
        PREFIX_SETTING: settings.redis_key_prefix,
    }


def check_time_limits(conf: Any) -> None:
    """Refuse to start when a task could outlive Redis' visibility timeout (it would be
    delivered twice while still running)."""
    hard = conf.task_time_limit
    for name in ("broker_transport_options", "result_backend_transport_options"):
        visibility = (conf.get(name) or {}).get("visibility_timeout")
        if visibility is None or hard is None or hard >= visibility:
            raise SettingsError(f"task_time_limit ({hard}) must be below {name}.visibility_timeout ({visibility})")
    soft = conf.task_soft_time_limit
    if soft is None or soft >= hard:
        raise SettingsError(f"task_soft_time_limit ({soft}) must be below task_time_limit ({hard})")


def create_app(settings: Settings, *, node: bool = False) -> Celery:
    """The app of this process. `node`: a process started by `celery` (worker, beat,
    Flower): with a metrics port, metrics are in multiprocess mode and a worker serves
    them once for its node."""
    from workers.bootstrap import bootstrap

    remember_secrets(*secrets_in(settings.model_dump()))  # redacted wherever they show up
    if node:
        _refuse_servers_without_clock(settings)
    configure_logging(settings.log_level, settings.log_format, retry_log_every=settings.retry_log_every)
    if node and settings.unknown_names:  # the CLI says it on stderr (settings_or_exit)
        import structlog

        structlog.get_logger(__name__).warning("unknown_settings_ignored", names=settings.unknown_names)
    if node:
        sys.excepthook = _log_uncaught
    if node and settings.metrics_port:
        serve_node_metrics(settings.metrics_port)
    if node:
        from workers import watchdog

        watchdog.install(settings.queue_stall_seconds, settings.watchdog_file)  # workers only: worker_ready
    bootstrap(settings)
    app = RedactingCelery(
        "hedgeops", include=list(names.TASK_MODULES), set_as_current=True, amqp="workers.message_size:BoundedAMQP"
    )
    app.conf.update(celery_config(settings))
    check_time_limits(app.conf)
    app.set_default()
    app.loader.import_default_modules()
    return app


def _refuse_servers_without_clock(settings: Settings) -> None:
    """A worker, beat or Flower does not start while an enabled account's trade server has
    no clock setting: one line naming it on stderr, exit 2."""
    from workers.mt5_wiring import server_clock_problem

    if (problem := server_clock_problem(settings)) is not None:
        print(f"hedgeops: {problem}", file=sys.stderr)
        raise SystemExit(2)


def _settings_or_exit() -> Settings:
    """A worker's, beat's or Flower's settings: never in-process on a server database."""
    try:
        settings = load_settings()
        node_mode(settings)
        return settings
    except SettingsError as exc:
        print(f"hedgeops: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


_app: Celery | None = None


def __getattr__(name: str) -> Celery:
    """`app` is made on first use, so the CLI can make its own from other settings."""
    global _app
    if name not in ("app", "celery"):
        raise AttributeError(name)
    if _app is None:
        settings = _settings_or_exit()
        _refuse_open_flower()
        _app = create_app(settings, node=True)
    return _app


def _refuse_open_flower() -> None:
    """A Flower started on this app by hand (`celery -A workers.celery_app flower`, not
    `hedgeops flower`) without credentials would show every task and its arguments to
    whoever reaches its port (its pages need none): it does not start."""
    import click

    context = click.get_current_context(silent=True)
    if context is None or context.invoked_subcommand != "flower":
        return
    flags = ("--basic-auth=", "--basic_auth=", "--auth=")  # Flower's own ways (tornado: --name=value)
    given = [arg for arg in sys.argv if arg.startswith(flags) and arg.partition("=")[2]]
    given += [name for name in ("FLOWER_BASIC_AUTH", "FLOWER_AUTH") if os.environ.get(name)]
    if given:
        from workers.flower_metrics import lock_metrics

        lock_metrics()  # /metrics asks for the same credentials as the pages
        return
    if os.environ.get(FLOWER_INSECURE_DEV) == "1":
        return
    print(
        "hedgeops: refusing to start Flower without credentials: start it with `hedgeops flower` "
        "(HEDGEOPS_FLOWER_USER and HEDGEOPS_FLOWER_PASSWORD) or set FLOWER_BASIC_AUTH",
        file=sys.stderr,
    )
    raise SystemExit(2)


def serve_node_metrics(port: int) -> None:
    """Multiprocess mode before any metric exists; the worker's main process serves the
    node's sum at start (a port it cannot bind stops it); an ended pool process leaves
    the live gauges."""

    from workers import metrics

    metrics.use_multiprocess()

    def _serve(sender: Any = None, **_: Any) -> None:
        from workers.queue_depth import QueueDepthCollector, broker_depths, broker_oldest_ages

        queues = QueueDepthCollector(
            sender.app.amqp.queues.consume_from,
            broker_depths(sender.app),
            broker_oldest_ages(sender.app),
            lambda: datetime.now(UTC),
        )
        try:
            metrics.serve_node(port, queues=queues)
        except metrics.MetricsPortUnavailable as exc:
            start_failed(str(exc))

    worker_init.connect(_serve, weak=False)
    worker_process_shutdown.connect(metrics.process_ended, weak=False)


def _log_uncaught(kind: type[BaseException], exc: BaseException, tb: Any) -> None:
    """A worker, beat or Flower that dies of an exception says so in one log event (with its
    traceback as a field), not as a traceback of many lines on stderr."""
    import structlog

    structlog.get_logger(__name__).critical("process_failed", error=f"{kind.__name__}: {exc}", exc_info=(kind, exc, tb))


def start_failed(message: str) -> None:
    """A start-up error: one log event, one line on stderr, exit 2 (no traceback)."""
    import structlog

    structlog.get_logger(__name__).error("worker_start_failed", error=message)
    print(f"hedgeops: {message}", file=sys.stderr)
    raise SystemExit(2)


def _stamp_message(headers: dict[str, Any] | None = None, body: Any = None, **_: Any) -> None:
    """Every message this process sends (CLI, `celery call`, beat, a task's children)
    says when it was sent and for which database (a retry is a new message: stamped anew)."""
    if headers is None:
        return
    redact_reprs(headers)  # what events, Flower and `inspect` show of the arguments
    show_as_of(headers, body)

    headers[SENT_AT_HEADER] = datetime.now(UTC).isoformat()
    if DATABASE["fingerprint"] is not None:
        headers[DATABASE_HEADER] = DATABASE["fingerprint"]


def show_as_of(headers: dict[str, Any], body: Any) -> None:
    """Flower's task list shows a message's `kwargsrepr`: a message sent inside a run (a
    chunk, a step) whose arguments name no as-of date says the run's there, `(as_of D)`
    after the arguments (the arguments themselves are unchanged)."""
    import structlog

    kwargs = body[1] if isinstance(body, (tuple, list)) and len(body) > 1 and isinstance(body[1], dict) else {}
    as_of = structlog.contextvars.get_contextvars().get("as_of")
    if as_of and not kwargs.get("as_of") and isinstance(headers.get("kwargsrepr"), str):
        headers["kwargsrepr"] = f"{headers['kwargsrepr']} (as_of {as_of})"


def _check_at_worker_start(sender: Any = None, **_: Any) -> None:
    if sender is not None:
        check_time_limits(sender.app.conf)


def freeze_start_up_heap(*_: Any, **__: Any) -> None:
    """Move what start-up made (settings, the app, every task module, SQLAlchemy's mapped
    classes: over 150,000 objects; in a pool process also its bundles and the simulator's
    scenario, about 240,000 with 2,000 accounts) out of the collector's reach: it lives as
    long as the process, yet every full collection walked it again (about 0.15 s each),
    and one landing between a breach and its closes took the guard 180 ms (benchmarks/
    README.md, guard.py and mt5_sync). Done in the worker's main process before its pool
    forks, so the pool processes inherit it (and share those pages instead of copying them
    when the collector would have touched them), and again in each pool process once it is
    set up; what a process makes later is collected as before."""
    gc.collect()
    gc.freeze()


# Connected by a call, not as decorators (the same weak references): celery has no type
# hints, and mypy --strict takes a function under an untyped decorator for an untyped one.
before_task_publish.connect(_stamp_message)
worker_init.connect(_check_at_worker_start)
worker_init.connect(freeze_start_up_heap)
worker_process_init.connect(freeze_start_up_heap)
# The retries counted and not yet said (workers.retry_logs), when a pool process or the worker ends.
worker_process_shutdown.connect(flush_retry_logs)
worker_shutdown.connect(flush_retry_logs)
