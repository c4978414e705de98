"""What a monitor is told about the nightly (the Nagios plugin convention: 0 OK,
1 WARNING, 2 CRITICAL, 3 UNKNOWN) and when the nightly of a date is late. Pure: the
caller gives the run it found and the time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import IntEnum

from core.calendars import BusinessCalendar
from core.values import RunStatus

#: The share of active contracts (%) left without a snapshot above which a nightly is CRITICAL.
DEFAULT_MAX_UNVALUED_PCT = Decimal(10)


class CheckState(IntEnum):
    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


@dataclass(frozen=True, slots=True)
class RunFacts:
    """The newest attempt of a nightly, as the ledger has it."""

    batch_run_id: int
    status: RunStatus
    exceptions: int = 0
    conflicts: int = 0
    price_missing: int = 0
    error: str | None = None
    missing_symbols: tuple[str, ...] = ()
    active_contracts: int = 0
    unvalued_contracts: int = 0

    @property
    def unvalued_pct(self) -> Decimal:
        """Unvalued active contracts in % (0 without active contracts)."""
        if not self.active_contracts:
            return Decimal(0)
        return Decimal(100 * self.unvalued_contracts) / Decimal(self.active_contracts)


@dataclass(frozen=True, slots=True)
class Check:
    state: CheckState
    message: str

    def line(self, subject: str) -> str:
        """The one status line of a plugin: `NIGHTLY OK - ...`."""
        return f"{subject.upper()} {self.state.name} - {self.message}"


def nightly_deadline(day: date, nightly_at: time, grace: timedelta) -> datetime:
    """The nightly of `day` is sent at `nightly_at` (UTC) on `day`; it is late once
    `grace` has passed since."""
    return datetime.combine(day, nightly_at, tzinfo=UTC) + grace


def latest_due(now: datetime, nightly_at: time, grace: timedelta, calendar: BusinessCalendar) -> date:
    """The due date at `now`, one definition for the freshness alert and `check nightly`: the
    newest business day of the nightly's calendar whose deadline has passed."""
    day = now.date() + timedelta(days=1)
    while not calendar.is_business_day(day) or nightly_deadline(day, nightly_at, grace) > now:
        day -= timedelta(days=1)
    return day


def check_nightly(
    day: date,
    run: RunFacts | None,
    *,
    now: datetime,
    deadline: datetime,
    max_exceptions: int = 0,
    max_unvalued_pct: Decimal = DEFAULT_MAX_UNVALUED_PCT,
) -> Check:
    """OK when it succeeded (or has at most `max_exceptions` exceptions and nothing else
    wrong), or is not due yet; WARNING when it completed with conflicts or more
    exceptions; CRITICAL when it failed, is missing or still running after its deadline, a
    required D-1 price never arrived, or more than `max_unvalued_pct` % of the active
    contracts have no snapshot. Exceptions and missing prices are counted apart."""
    late = now >= deadline
    due = f"deadline {deadline.isoformat(timespec='minutes')}"
    if run is None:
        if late:
            return Check(CheckState.CRITICAL, f"no nightly run for {day}, {due} passed")
        return Check(CheckState.OK, f"nightly for {day} not started yet ({due})")
    where = f"nightly {day} (batch run {run.batch_run_id})"
    if run.status is RunStatus.RUNNING:
        state = CheckState.CRITICAL if late else CheckState.OK
        return Check(state, f"{where} still running, {due}{' passed' if late else ''}")
    if run.status is RunStatus.FAILED:
        return Check(CheckState.CRITICAL, f"{where} failed: {run.error or 'no error recorded'}")
    return _completed(where, run, max_exceptions, max_unvalued_pct)


def _completed(where: str, run: RunFacts, max_exceptions: int, max_unvalued_pct: Decimal) -> Check:
    figures = (
        f"exceptions={run.exceptions} price_missing={run.price_missing} "
        f"unvalued={run.unvalued_contracts}/{run.active_contracts} conflicts={run.conflicts}"
    )
    if run.price_missing:
        named = f" ({', '.join(run.missing_symbols)})" if run.missing_symbols else ""
        return Check(CheckState.CRITICAL, f"{where} has no D-1 price for a required symbol{named}; {figures}")
    if run.unvalued_pct > max_unvalued_pct:
        share = f"{run.unvalued_pct.quantize(Decimal('0.1'))}% of active contracts unvalued"
        return Check(CheckState.CRITICAL, f"{where} {share} (more than {max_unvalued_pct}%); {figures}")
    if run.conflicts:
        return Check(CheckState.WARNING, f"{where} completed with conflicts; {figures}")
    if run.exceptions > max_exceptions:
        return Check(
            CheckState.WARNING, f"{where} {run.status.value}; {figures} (exceptions more than {max_exceptions})"
        )
    return Check(CheckState.OK, f"{where} {run.status.value}; {figures}")
