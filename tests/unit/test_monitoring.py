"""What a monitor is told about the nightly (Nagios: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN)
and when a nightly is late."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from core.calendars import CalendarName, calendar_named
from core.monitoring import (
    Check,
    CheckState,
    RunFacts,
    check_nightly,
    latest_due,
    nightly_deadline,
)
from core.values import RunStatus

DAY = date(2026, 11, 20)
DEADLINE = datetime(2026, 11, 21, 0, 30, tzinfo=UTC)
BEFORE, AFTER = DEADLINE - timedelta(minutes=1), DEADLINE


def facts(status: RunStatus, **kw: object) -> RunFacts:
    return RunFacts(batch_run_id=7, status=status, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("run", "now", "max_exceptions", "state"),
    [
        pytest.param(facts(RunStatus.SUCCEEDED), AFTER, 0, CheckState.OK, id="succeeded"),
        pytest.param(
            facts(RunStatus.COMPLETED_WITH_EXCEPTIONS, exceptions=1), AFTER, 0, CheckState.WARNING, id="exceptions"
        ),
        pytest.param(
            facts(RunStatus.COMPLETED_WITH_EXCEPTIONS, exceptions=1),
            AFTER,
            1,
            CheckState.OK,
            id="exceptions-within-the-allowance",
        ),
        pytest.param(
            facts(RunStatus.COMPLETED_WITH_EXCEPTIONS, price_missing=2),
            AFTER,
            1,
            CheckState.CRITICAL,
            id="a-missing-price-is-critical-whatever-the-allowance",
        ),
        pytest.param(
            facts(RunStatus.COMPLETED_WITH_EXCEPTIONS, exceptions=2, active_contracts=20, unvalued_contracts=2),
            AFTER,
            2,
            CheckState.OK,
            id="ten-percent-unvalued-within-the-allowance",
        ),
        pytest.param(
            facts(RunStatus.COMPLETED_WITH_EXCEPTIONS, exceptions=3, active_contracts=20, unvalued_contracts=3),
            AFTER,
            5,
            CheckState.CRITICAL,
            id="more-than-ten-percent-unvalued",
        ),
        pytest.param(
            facts(RunStatus.COMPLETED_WITH_CONFLICTS, conflicts=1), AFTER, 5, CheckState.WARNING, id="conflicts"
        ),
        pytest.param(facts(RunStatus.FAILED, error="step prices failed"), BEFORE, 0, CheckState.CRITICAL, id="failed"),
        pytest.param(facts(RunStatus.RUNNING), BEFORE, 0, CheckState.OK, id="running-before-the-deadline"),
        pytest.param(facts(RunStatus.RUNNING), AFTER, 0, CheckState.CRITICAL, id="running-after-the-deadline"),
        pytest.param(None, BEFORE, 0, CheckState.OK, id="missing-before-the-deadline"),
        pytest.param(None, AFTER, 0, CheckState.CRITICAL, id="missing-after-the-deadline"),
    ],
)
def test_the_state_of_a_nightly(run: RunFacts | None, now: datetime, max_exceptions: int, state: CheckState) -> None:
    check = check_nightly(DAY, run, now=now, deadline=DEADLINE, max_exceptions=max_exceptions)
    assert check.state is state
    assert "\n" not in check.message


def test_the_status_line_follows_the_plugin_convention() -> None:
    assert Check(CheckState.CRITICAL, "no nightly").line("nightly") == "NIGHTLY CRITICAL - no nightly"
    assert [s.value for s in CheckState] == [0, 1, 2, 3]


def test_the_deadline_is_the_scheduled_time_plus_the_grace() -> None:
    assert nightly_deadline(DAY, time(22, 30), timedelta(hours=2)) == DEADLINE


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 11, 21, 0, 29, tzinfo=UTC), date(2026, 11, 19)),
        (datetime(2026, 11, 21, 0, 30, tzinfo=UTC), date(2026, 11, 20)),
        (datetime(2026, 11, 21, 23, 0, tzinfo=UTC), date(2026, 11, 20)),
    ],
)
def test_the_newest_date_due(now: datetime, expected: date) -> None:
    assert latest_due(now, time(22, 30), timedelta(hours=2), calendar_named(CalendarName.WEEKDAYS)) == expected


@pytest.mark.parametrize(
    ("now", "calendar", "expected"),
    [
        (datetime(2026, 11, 23, 10, 0, tzinfo=UTC), CalendarName.WEEKDAYS, date(2026, 11, 20)),  # Monday: Friday's
        (datetime(2026, 11, 22, 23, 0, tzinfo=UTC), CalendarName.WEEKDAYS, date(2026, 11, 20)),  # Sunday: no nightly
        (datetime(2026, 12, 28, 10, 0, tzinfo=UTC), CalendarName.TARGET, date(2026, 12, 24)),  # 25 Dec closed
        (datetime(2026, 12, 28, 10, 0, tzinfo=UTC), CalendarName.WEEKDAYS, date(2026, 12, 25)),
    ],
)
def test_the_due_date_is_a_business_day_of_the_nightlys_calendar(
    now: datetime, calendar: CalendarName, expected: date
) -> None:
    assert latest_due(now, time(22, 30), timedelta(hours=2), calendar_named(calendar)) == expected


def test_missing_prices_and_exceptions_are_told_apart() -> None:
    run = facts(
        RunStatus.COMPLETED_WITH_EXCEPTIONS,
        exceptions=1,
        price_missing=1,
        missing_symbols=("LME-NI",),
        active_contracts=8,
        unvalued_contracts=1,
    )
    check = check_nightly(DAY, run, now=AFTER, deadline=DEADLINE, max_exceptions=5)
    assert check.message == (
        "nightly 2026-11-20 (batch run 7) has no D-1 price for a required symbol (LME-NI); "
        "exceptions=1 price_missing=1 unvalued=1/8 conflicts=0"
    )
