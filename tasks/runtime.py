"""What tasks need from the outside world, handed over by the worker bootstrap.

Tasks never read settings or build adapters: `workers.bootstrap` builds a Runtime once per
process and configures it here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from core.calendars import d1_dates
from core.ecb import EcbCrosses
from core.hedging.policy import HedgingPolicy
from core.ledger import RunScope
from core.mt5.accounts import CYCLE_FAMILY
from core.mt5.guard_policy import GuardPolicy
from core.mt5.ports import (
    CredentialStore,
    GatewayFactory,
    GuardObserver,
    NoCredentials,
    NoGuardObserver,
    NoNotifier,
    NoSyncObserver,
    Notifier,
    SyncObserver,
    no_fault,
    no_gateway,
)
from core.ports import NoRunObserver, PriceSource, RunLock, RunObserver
from core.rows import DEFAULT_WINDOW, DateWindow
from core.values import D1Policy
from db.uow import UnitOfWorkFactory


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Runtime:
    uow: UnitOfWorkFactory
    price_sources: Sequence[PriceSource]
    run_lock: RunLock
    d1_policy: D1Policy = D1Policy.BUSINESS
    chunk_size: int = 1000
    #: PostgreSQL values a chunk's commodity forwards in one statement (db.mtm_in_database).
    mtm_in_database: bool = True
    stale_after: timedelta = timedelta(hours=1)
    #: A running chunked run without heartbeat this long gets its missing chunks re-sent.
    chunk_resend_after: timedelta = timedelta(minutes=5)
    clock: Callable[[], datetime] = field(default=utc_now)
    #: Calendar per symbol or prefix, over core.calendars' defaults.
    symbol_calendars: Mapping[str, str] = field(default_factory=dict)
    #: The dates a loaded file may name (HEDGEOPS_DATE_MIN and _MAX): outside, the row is refused.
    date_window: DateWindow = DEFAULT_WINDOW
    #: Who is told what runs do (metrics), and when the nightly of a date is late: its
    #: deadline after the nightly's scheduled time (HEDGEOPS_NIGHTLY_AT).
    run_observer: RunObserver = field(default_factory=NoRunObserver)
    nightly_at: time = time(22, 30)
    nightly_deadline: timedelta = timedelta(hours=2)
    #: Hedge accounting: FX discount rates, the defaults dossiers lock, effectiveness chunks.
    hedging: HedgingPolicy = field(default_factory=HedgingPolicy)
    #: The ECB crosses derived once their legs' batch is stored (None: none).
    ecb_crosses: EcbCrosses | None = None
    #: MT5: the gateway of a terminal (one per process), passwords by reference, who is told
    #: of each sync (metrics), the cycle lock (None: the ledger alone), and the sync's knobs.
    mt5_gateways: GatewayFactory = field(default=no_gateway)
    mt5_credentials: CredentialStore = field(default_factory=NoCredentials)
    mt5_observer: SyncObserver = field(default_factory=NoSyncObserver)
    mt5_cycle_lock: RunLock | None = None
    mt5_cycle_stale_after: timedelta = timedelta(minutes=10)
    mt5_chunk_size: int = 200
    mt5_slippage_points: int = 10
    #: The drawdown guard: the default policy (None: no guard), named per-account overrides
    #: (mt5_accounts.policy names one), alerts, metrics, and the fault hook of crash tests.
    guard_policy: GuardPolicy | None = None
    guard_policies: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    notifier: Notifier = field(default_factory=NoNotifier)
    guard_observer: GuardObserver = field(default_factory=NoGuardObserver)
    fault: Callable[[str], None] = field(default=no_fault)
    #: A close whose attempt is `sent` without an answer for this long is resolved by
    #: another process (before: its sender may still be waiting for the broker).
    unknown_after: timedelta = timedelta(seconds=15)

    def run_policy(self, scope: RunScope) -> tuple[RunLock | None, timedelta]:
        """The lock (None: the ledger alone) and the staleness of the runs of a family."""
        if scope.family == CYCLE_FAMILY:
            return self.mt5_cycle_lock, self.mt5_cycle_stale_after
        return self.run_lock, self.stale_after

    def d1_dates(self, symbols: Iterable[str], as_of: date) -> dict[str, date]:
        """The D-1 date each symbol needs for as-of `as_of`, by its calendar and the policy."""
        return d1_dates(symbols, as_of, self.d1_policy, self.symbol_calendars)


_runtime: Runtime | None = None


def configure(runtime: Runtime) -> None:
    global _runtime
    _runtime = runtime


def runtime() -> Runtime:
    if _runtime is None:
        raise RuntimeError("hedgeops runtime is not configured (workers.bootstrap.configure sets it)")
    return _runtime
