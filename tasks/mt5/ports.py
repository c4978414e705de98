"""The MT5 room's ports: the gateway of a terminal (one per process), passwords by
reference, who is told of each sync (metrics), the sync's knobs, and the drawdown guard's
policy, alerts, metrics and the fault hook of crash tests. Built by `workers.bootstrap`;
looked up with `mt5_ports()` at a task's entry only, then passed down. The cycle lock and
staleness are the shared bundle's (a run family of tasks.ports)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from core.mt5.guard_policy import GuardPolicy
from core.mt5.market_guard import MarketPolicies
from core.mt5.ports import (
    CredentialStore,
    GatewayFactory,
    GuardObserver,
    NoCredentials,
    NoGuardObserver,
    NoSyncObserver,
    SyncObserver,
    ThrottleFactory,
    no_fault,
    no_gateway,
    no_throttle,
)
from core.ports import NoNotifier, Notifier


@dataclass(frozen=True)
class Mt5Ports:
    gateways: GatewayFactory = field(default=no_gateway)
    credentials: CredentialStore = field(default_factory=NoCredentials)
    sync_observer: SyncObserver = field(default_factory=NoSyncObserver)
    chunk_size: int = 200
    slippage_points: int = 10
    #: The drawdown guard: the default policy (None: no guard), named per-account overrides
    #: (mt5_accounts.policy names one), alerts, metrics, and the fault hook of crash tests.
    guard_policy: GuardPolicy | None = None
    guard_policies: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    #: The market guard's policies (core.mt5.market_guard; None: no market guard).
    market_policies: MarketPolicies | None = None
    #: Each trade server's clock (core.mt5.server_time specs): a policy's day boundary may
    #: be given in server time (`day_start_tz` "server").
    server_times: Mapping[str, str] = field(default_factory=dict)
    notifier: Notifier = field(default_factory=NoNotifier)
    guard_observer: GuardObserver = field(default_factory=NoGuardObserver)
    fault: Callable[[str], None] = field(default=no_fault)
    #: A close whose attempt is `sent` without an answer for this long is resolved by
    #: another process (before: its sender may still be waiting for the broker).
    unknown_after: timedelta = timedelta(seconds=15)
    #: Each terminal's order-rate limit (HEDGEOPS_MT5_ORDERS_PER_SECOND): every close and
    #: removal the guard sends waits for it.
    order_throttle: ThrottleFactory = field(default=no_throttle)


_mt5: Mt5Ports | None = None


def configure(bundle: Mt5Ports) -> None:
    global _mt5
    _mt5 = bundle


def mt5_ports() -> Mt5Ports:
    """The MT5 bundle; for task entries only (below them it is passed)."""
    if _mt5 is None:
        raise RuntimeError("hedgeops MT5 ports are not configured (workers.bootstrap.bootstrap configures them)")
    return _mt5
