"""The ports every job shares: the unit of work, the clock, the run lock and staleness of
each run family, who watches runs, and the prices and ledger settings. A domain's own ports
are its room's bundle (tasks.hedging.ports, tasks.mt5.ports).

`workers.bootstrap` builds the bundles once per process and configures them here. Only a
task's entry (the Celery task function, or the public function the CLI calls) looks its
bundle up with `ports()`; everything below it is handed what it needs as arguments (the
shared bundle as `p`, a room's as `hedging` or `mt5`). This module names no domain room: a
family with its own lock (an MT5 cycle) is a name here."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from core.calendars import d1_dates
from core.ecb import EcbCrosses
from core.ledger import RunScope
from core.ports import (
    DeliveryCounter,
    LocalDeliveryCounter,
    NoNotifier,
    NoRunObserver,
    Notifier,
    PriceSource,
    RunLock,
    RunObserver,
)
from core.price_checks import PriceChecks
from core.rows import DEFAULT_WINDOW, DateWindow
from core.values import D1Policy
from db.uow import UnitOfWorkFactory


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class RunPolicy:
    """How the runs of a family are guarded: their lock (None: the ledger alone) and how
    long a running one may go without heartbeat before it is stale."""

    lock: RunLock | None
    stale_after: timedelta


@dataclass(frozen=True)
class Ports:
    uow: UnitOfWorkFactory
    run_lock: RunLock
    price_sources: Sequence[PriceSource] = ()
    d1_policy: D1Policy = D1Policy.BUSINESS
    chunk_size: int = 1000
    #: PostgreSQL values a chunk's commodity forwards in one statement (db.mtm_in_database).
    mtm_in_database: bool = True
    stale_after: timedelta = timedelta(hours=1)
    #: Run families guarded otherwise than nightly jobs (by RunScope.family): an MT5
    #: terminal's cycles have the cycle lock and their own staleness.
    family_policies: Mapping[str, RunPolicy] = field(default_factory=dict)
    #: A running chunked run without heartbeat this long gets its missing chunks re-sent.
    chunk_resend_after: timedelta = timedelta(minutes=5)
    clock: Callable[[], datetime] = field(default=utc_now)
    #: Calendar per symbol or prefix, over core.calendars' defaults.
    symbol_calendars: Mapping[str, str] = field(default_factory=dict)
    #: The dates a loaded file may name (HEDGEOPS_DATE_MIN and _MAX): outside, the row is refused.
    date_window: DateWindow = DEFAULT_WINDOW
    #: Who is told what runs do (metrics), and when the nightly of a date is late: its
    #: deadline after the nightly's scheduled time (HEDGEOPS_NIGHTLY_AT), told through `notifier`.
    run_observer: RunObserver = field(default_factory=NoRunObserver)
    nightly_at: time = time(22, 30)
    nightly_deadline: timedelta = timedelta(hours=2)
    #: The business dates that have a nightly (core.calendars.CalendarName): the due date's calendar.
    nightly_calendar: str = "WEEKDAYS"
    notifier: Notifier = field(default_factory=NoNotifier)
    #: The ECB crosses derived once their legs' batch is stored (None: none).
    ecb_crosses: EcbCrosses | None = None
    #: The deliveries of a message sent for another database, and how many times it is
    #: given back before it is dead-lettered (HEDGEOPS_FOREIGN_MESSAGE_REQUEUES).
    deliveries: DeliveryCounter = field(default_factory=LocalDeliveryCounter)
    foreign_requeues: int = 5
    #: The pricing variance control: verification sources, thresholds, blocking (core.price_checks).
    price_checks: PriceChecks = field(default_factory=PriceChecks)
    #: Told the as-of date of each nightly that ended, after its commit (the morning pack, when
    #: HEDGEOPS_REPORTS_DIR is set; None: nobody).
    nightly_ended: Callable[[date], None] | None = None

    def run_policy(self, scope: RunScope) -> RunPolicy:
        """The lock and the staleness of the runs of `scope`'s family."""
        return self.family_policies.get(scope.family) or RunPolicy(self.run_lock, self.stale_after)

    def d1_dates(self, symbols: Iterable[str], as_of: date) -> dict[str, date]:
        """The D-1 date each symbol needs for as-of `as_of`, by its calendar and the policy."""
        return d1_dates(symbols, as_of, self.d1_policy, self.symbol_calendars)


_ports: Ports | None = None


def configure(bundle: Ports) -> None:
    global _ports
    _ports = bundle


def ports() -> Ports:
    """The shared bundle; for task entries only (below them it is passed)."""
    if _ports is None:
        raise RuntimeError("hedgeops ports are not configured (workers.bootstrap.bootstrap configures them)")
    return _ports
