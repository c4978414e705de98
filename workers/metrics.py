"""Prometheus metrics, named as in seed 001. The MT5 sync reports through the
SyncObserver port; each worker process serves its registry on HEDGEOPS_METRICS_PORT.

    mt5_position_sync_total{terminal,outcome}        counter: account syncs, outcome ok or the failure kind
    reconciliation_divergences_total{reason}         counter: reconciliation rows that are divergences
    reconciliation_latency_seconds{terminal}         histogram: reading and reconciling one account
    mt5_positions_total{login}                       gauge: open positions of the account
    account_equity{login,currency}                   gauge: equity at the last sync
    account_drawdown_percent{login}                  gauge: drawdown from peak equity at the last sync
    drawdown_guard_triggers_total{kind}              counter: warnings, executions, would-close (shadow)
    positions_autoclosed_total{reason}               counter: positions the guard closed
    close_intents_pending                            gauge: close intents not yet confirmed or failed
    close_order_attempts_total{retcode}              counter: order_send calls of closes, by answer ("none": no result)
"""
from __future__ import annotations

from collections.abc import Sequence

import structlog
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from core.mt5.reconcile import Outcome
from core.mt5.snapshot import SnapshotFigures
from core.mt5.values import ReconStatus

log = structlog.get_logger(__name__)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class PrometheusSyncObserver:
    """Implements core.mt5.ports.SyncObserver on a prometheus-client registry."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.syncs = Counter("mt5_position_sync_total", "MT5 account syncs", ["terminal", "outcome"],
                             registry=registry)
        self.divergences = Counter("reconciliation_divergences_total", "Reconciliation divergences by reason",
                                   ["reason"], registry=registry)
        self.latency = Histogram("reconciliation_latency_seconds", "Reading and reconciling one account",
                                 ["terminal"], buckets=LATENCY_BUCKETS, registry=registry)
        self.positions = Gauge("mt5_positions_total", "Open MT5 positions of an account", ["login"],
                               registry=registry)
        self.equity = Gauge("account_equity", "Account equity at the last sync, in its currency",
                            ["login", "currency"], registry=registry)
        self.drawdown = Gauge("account_drawdown_percent", "Drawdown from peak equity at the last sync", ["login"],
                              registry=registry)

    def account_synced(self, terminal: str, login: int, currency: str, figures: SnapshotFigures,
                       outcomes: Sequence[Outcome], seconds: float) -> None:
        self.syncs.labels(terminal, "ok").inc()
        for outcome in outcomes:
            if outcome.status is ReconStatus.DIVERGENCE:
                self.divergences.labels(outcome.reason.value).inc()
        self.latency.labels(terminal).observe(seconds)
        self.positions.labels(str(login)).set(figures.open_positions)
        # Gauges are floats by nature: a reading for dashboards, never a stored amount.
        self.equity.labels(str(login), currency).set(float(figures.equity))
        self.drawdown.labels(str(login)).set(float(figures.drawdown_percent))

    def account_failed(self, terminal: str, login: int, kind: str, seconds: float) -> None:
        self.syncs.labels(terminal, kind).inc()


class PrometheusGuardObserver:
    """Implements core.mt5.ports.GuardObserver (seed 001's names)."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.triggers = Counter("drawdown_guard_triggers_total", "Drawdown guard triggers", ["kind"],
                                registry=registry)
        self.closed = Counter("positions_autoclosed_total", "Positions closed by the guard", ["reason"],
                              registry=registry)
        self.pending = Gauge("close_intents_pending", "Close intents not yet confirmed or failed", registry=registry)
        self.attempts = Counter("close_order_attempts_total", "order_send calls of closes by retcode", ["retcode"],
                                registry=registry)

    def guard_triggered(self, kind: str) -> None:
        self.triggers.labels(kind).inc()

    def position_autoclosed(self, reason: str) -> None:
        self.closed.labels(reason).inc()

    def close_order_attempt(self, retcode: int | None) -> None:
        self.attempts.labels("none" if retcode is None else str(retcode)).inc()

    def intents_pending(self, count: int) -> None:
        self.pending.set(count)


_observer: PrometheusSyncObserver | None = None
_guard_observer: PrometheusGuardObserver | None = None


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


def serve(port: int) -> None:
    """Serve the default registry on `port` (a worker process calls it after fork)."""
    if not port:
        return
    try:
        start_http_server(port)
    except OSError as exc:
        log.warning("metrics_port_unavailable", port=port, error=str(exc))
        return
    log.info("metrics_served", port=port)
