"""Prometheus metrics: the batch runs' (through core.ports.RunObserver) and seed 001's MT5
and guard metrics (SyncObserver, GuardObserver). prometheus-client runs in multiprocess
mode (PROMETHEUS_MULTIPROC_DIR; a fresh directory of the node's own when unset): every
pool process writes its values there, and the worker's main process serves their sum
once per node on HEDGEOPS_METRICS_PORT, whatever its concurrency. A port that cannot be
bound stops the worker at start-up.

Our job label is `hedgeops_job`, never `job`: Prometheus gives every scraped series a `job`
of its own (the scrape job), so ours would be renamed `exported_job`. Counters are summed
over the node's processes; each gauge says below how its processes' values make the node's
one (README: Metrics, how to aggregate them across nodes).

    hedgeops_runs_total{hedgeops_job,status}          counter: runs ended, by job and status
    hedgeops_run_duration_seconds{hedgeops_job}       histogram: start to end of a run
    hedgeops_snapshots_written_total{hedgeops_job,outcome}  counter: created, existing, conflict
    hedgeops_conflicts_total{hedgeops_job}            counter: results refused as conflicts
    hedgeops_exceptions_total{hedgeops_job}           counter: MTM exceptions, bad rows, failed sources, accounts
    hedgeops_price_missing_total{hedgeops_job}        counter: required D-1 prices missing after a prices run
    hedgeops_last_success_timestamp_seconds{...}      gauge (max): end of the job's last successful run
    hedgeops_chunks_in_flight{hedgeops_job}           gauge (sum of the live processes): chunk tasks at work
    hedgeops_nightly_late_total                       counter: late-nightly alerts sent (once per date)
    hedgeops_queue_messages{queue}                    gauge: waiting messages, read at scrape (queue_depth.py)
    hedgeops_queue_oldest_age_seconds{queue}          gauge: the oldest waiting message's age, read at scrape

    mt5_position_sync_total{terminal,outcome}        counter: account syncs, outcome ok or the failure kind
    reconciliation_divergences_total{reason}         counter: reconciliation rows that are divergences
    reconciliation_latency_seconds{terminal}         histogram: reading and reconciling one account
    mt5_positions_total{login}                       gauge (the newest reading): open positions of the account
    account_equity{login,currency}                   gauge (the newest reading): equity at the last sync
    account_drawdown_percent{login}                  gauge (the newest reading): drawdown from peak equity
    drawdown_guard_triggers_total{kind}              counter: warnings, executions, would-close (shadow)
    positions_autoclosed_total{reason}               counter: positions the guard closed
    close_intents_pending                            gauge (the newest reading): every account's open intents
    close_order_attempts_total{retcode}              counter: order_send calls of closes, by answer ("none": no result)
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import structlog
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, multiprocess, start_http_server
from prometheus_client import values as prometheus_values
from prometheus_client.registry import Collector

from core.mt5.reconcile import Outcome
from core.mt5.snapshot import SnapshotFigures
from core.mt5.values import ReconStatus
from core.values import Counts, Job, RunStatus

log = structlog.get_logger(__name__)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class PrometheusSyncObserver:
    """Implements core.mt5.ports.SyncObserver on a prometheus-client registry."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.syncs = Counter("mt5_position_sync_total", "MT5 account syncs", ["terminal", "outcome"], registry=registry)
        self.divergences = Counter(
            "reconciliation_divergences_total", "Reconciliation divergences by reason", ["reason"], registry=registry
        )
        self.latency = Histogram(
            "reconciliation_latency_seconds",
            "Reading and reconciling one account",
            ["terminal"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        # A reading of the last sync whichever process made it (multiprocess: the newest).
        self.positions = Gauge(
            "mt5_positions_total",
            "Open MT5 positions of an account",
            ["login"],
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        self.equity = Gauge(
            "account_equity",
            "Account equity at the last sync, in its currency",
            ["login", "currency"],
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        self.drawdown = Gauge(
            "account_drawdown_percent",
            "Drawdown from peak equity at the last sync",
            ["login"],
            registry=registry,
            multiprocess_mode="mostrecent",
        )

    def account_synced(
        self,
        terminal: str,
        login: int,
        currency: str,
        figures: SnapshotFigures,
        outcomes: Sequence[Outcome],
        seconds: float,
    ) -> None:
        self.syncs.labels(terminal, "ok").inc()
        diverged: dict[str, int] = {}  # counted first: a label lookup per reason, not per position
        for outcome in outcomes:
            if outcome.reason.status is ReconStatus.DIVERGENCE:
                diverged[outcome.reason.value] = diverged.get(outcome.reason.value, 0) + 1
        for reason, n in diverged.items():
            self.divergences.labels(reason).inc(n)
        self.latency.labels(terminal).observe(seconds)
        self.positions.labels(str(login)).set(figures.open_positions)
        # Gauges are floats by nature: a reading for dashboards, never a stored amount.
        self.equity.labels(str(login), currency).set(float(figures.equity))
        self.drawdown.labels(str(login)).set(float(figures.drawdown_percent))

    def account_failed(self, terminal: str, login: int, kind: str, seconds: float) -> None:
        self.syncs.labels(terminal, kind).inc()


#: The guard's trigger kinds (tasks/mt5/guard.py): `would_close` is shadow mode's execution.
GUARD_TRIGGER_KINDS = ("warning", "execution", "would_close")
#: Our job label; Prometheus keeps `job` for the scrape job.
JOB_LABEL = "hedgeops_job"


class PrometheusGuardObserver:
    """Implements core.mt5.ports.GuardObserver (seed 001's names)."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.triggers = Counter("drawdown_guard_triggers_total", "Drawdown guard triggers", ["kind"], registry=registry)
        self.closed = Counter(
            "positions_autoclosed_total", "Positions closed by the guard", ["reason"], registry=registry
        )
        # A count read from the database (every account's): the newest reading is the node's.
        self.pending = Gauge(
            "close_intents_pending",
            "Close intents not yet confirmed or failed",
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        self.attempts = Counter(
            "close_order_attempts_total", "order_send calls of closes by retcode", ["retcode"], registry=registry
        )
        for kind in GUARD_TRIGGER_KINDS:  # at 0 from the start, so the first trip is an increase
            self.triggers.labels(kind)

    def guard_triggered(self, kind: str) -> None:
        self.triggers.labels(kind).inc()

    def position_autoclosed(self, reason: str) -> None:
        self.closed.labels(reason).inc()

    def close_order_attempt(self, retcode: int | None) -> None:
        self.attempts.labels("none" if retcode is None else str(retcode)).inc()

    def intents_pending(self, count: int) -> None:
        self.pending.set(count)


#: The statuses a run ends with.
ENDED = tuple(s.value for s in RunStatus if s.finished)
DURATION_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)


class PrometheusRunObserver:
    """Implements core.ports.RunObserver: what the batch runs do."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.runs = Counter(
            "hedgeops_runs_total", "Runs ended, by job and status", [JOB_LABEL, "status"], registry=registry
        )
        self.duration = Histogram(
            "hedgeops_run_duration_seconds",
            "Start to end of a run",
            [JOB_LABEL],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.written = Counter(
            "hedgeops_snapshots_written_total",
            "Results written, by write-path outcome",
            [JOB_LABEL, "outcome"],
            registry=registry,
        )
        self.conflicts = Counter(
            "hedgeops_conflicts_total", "Results refused as conflicts", [JOB_LABEL], registry=registry
        )
        self.exceptions = Counter(
            "hedgeops_exceptions_total", "Exceptions counted by runs", [JOB_LABEL], registry=registry
        )
        self.price_missing = Counter(
            "hedgeops_price_missing_total", "Required D-1 prices missing", [JOB_LABEL], registry=registry
        )
        self.last_success = Gauge(
            "hedgeops_last_success_timestamp_seconds",
            "End of the last successful run",
            [JOB_LABEL],
            registry=registry,
            multiprocess_mode="max",
        )
        self.in_flight = Gauge(
            "hedgeops_chunks_in_flight",
            "Chunk tasks at work",
            [JOB_LABEL],
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.late = Counter("hedgeops_nightly_late_total", "Late-nightly alerts sent", registry=registry)
        for job in Job:
            self._known(job.value)

    def _known(self, job: str) -> None:
        """The series the alerts take an increase of exist at 0 before their first count (a
        series born at 1 shows no increase): the nightly family's from the start, a
        terminal's cycles' from their first results."""
        for status in ENDED:
            self.runs.labels(job, status)
        self.conflicts.labels(job)

    def results_counted(self, job: str, counts: Counts) -> None:
        self._known(job)
        for outcome, n in (("created", counts.created), ("existing", counts.existing), ("conflict", counts.conflicts)):
            if n:
                self.written.labels(job, outcome).inc(n)
        if counts.conflicts:
            self.conflicts.labels(job).inc(counts.conflicts)
        if counts.exceptions:
            self.exceptions.labels(job).inc(counts.exceptions)

    def chunk_started(self, job: str) -> None:
        self.in_flight.labels(job).inc()

    def chunk_ended(self, job: str) -> None:
        self.in_flight.labels(job).dec()

    def run_finished(
        self, job: str, status: str, seconds: float, price_missing: int, finished_at: datetime | None
    ) -> None:
        self._known(job)
        self.runs.labels(job, status).inc()
        self.duration.labels(job).observe(seconds)
        if price_missing:
            self.price_missing.labels(job).inc(price_missing)
        if status == "succeeded" and finished_at is not None:
            self.last_success.labels(job).set(finished_at.timestamp())

    def nightly_late(self, as_of: date, status: str) -> None:
        self.late.inc()


_observer: PrometheusSyncObserver | None = None
_guard_observer: PrometheusGuardObserver | None = None
_run_observer: PrometheusRunObserver | None = None


def default_guard_observer() -> PrometheusGuardObserver:
    global _guard_observer
    if _guard_observer is None:
        _guard_observer = PrometheusGuardObserver()
    return _guard_observer


def default_observer() -> PrometheusSyncObserver:
    """One observer on the process's default registry (metrics register once per process)."""
    global _observer
    if _observer is None:
        _observer = PrometheusSyncObserver()
    return _observer


def default_run_observer() -> PrometheusRunObserver:
    global _run_observer
    if _run_observer is None:
        _run_observer = PrometheusRunObserver()
    return _run_observer


class MetricsPortUnavailable(Exception):
    """The worker node's metrics port cannot be bound: a start-up error."""


def use_multiprocess() -> str:
    """Multiprocess mode from here on (call before any metric value exists): the values go
    to files in PROMETHEUS_MULTIPROC_DIR, a fresh directory of this process's own when
    unset (removed at exit; forked pool processes inherit it)."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not path:
        path = tempfile.mkdtemp(prefix="hedgeops-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
        owner = os.getpid()

        def remove_own_directory() -> None:
            if os.getpid() == owner:  # forked pool processes inherit the hook: only the maker removes it
                shutil.rmtree(path, ignore_errors=True)

        atexit.register(remove_own_directory)
    os.makedirs(path, exist_ok=True)
    prometheus_values.ValueClass = prometheus_values.MultiProcessValue()  # type: ignore[no-untyped-call]  # prometheus_client leaves its multiprocess helpers unannotated
    return path


def serve_node(port: int, address: str = "0.0.0.0", queues: Collector | None = None) -> None:
    """Serve the sum of every process's values on `port`: once per worker node, from its
    main process, with `queues` (the node's queue depths, workers/queue_depth.py).
    MetricsPortUnavailable when the port is taken."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # prometheus_client leaves its multiprocess helpers unannotated
    if queues is not None:
        registry.register(queues)
    try:
        start_http_server(port, addr=address, registry=registry)
    except OSError as exc:
        raise MetricsPortUnavailable(f"metrics port {port} cannot be bound: {exc.strerror or exc}") from None
    log.info("metrics_served", port=port, directory=os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def process_ended(pid: int, **_: Any) -> None:
    """A pool process ended: its live gauges (chunks in flight) leave the sum."""
    multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]  # prometheus_client leaves its multiprocess helpers unannotated
