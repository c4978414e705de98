"""The reports' figures shaped in core: the morning pack's deadlines, freshness and MTM
sums, and the dossier's dollar-offset and regression points."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from core.hedging.dossier_view import offset_points, regression_points, stored_dates
from core.morning import Deadline, freshness, group_mtm
from core.values import RunStatus

D = Decimal
NOV20 = date(2026, 11, 20)
DUE = datetime(2026, 11, 21, 7, tzinfo=UTC)  # 07:00 Europe/London on 21 Nov is 07:00 UTC (GMT)


@pytest.mark.parametrize(
    ("text", "day", "expected"),
    [
        ("07:00 Europe/London", NOV20, DUE),
        ("07:00 Europe/London", date(2026, 6, 1), datetime(2026, 6, 2, 6, tzinfo=UTC)),  # BST: UTC+1
        ("08:30 Europe/Berlin", NOV20, datetime(2026, 11, 21, 7, 30, tzinfo=UTC)),  # CET: UTC+1
    ],
)
def test_a_deadline_is_local_time_on_the_morning_after(text: str, day: date, expected: datetime) -> None:
    assert Deadline.parse(text).of(day) == expected


@pytest.mark.parametrize("text", ["07:00", "7 Europe/London", "07:00 Mars/Olympus", "25:00 Europe/London"])
def test_a_bad_deadline_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        Deadline.parse(text)


@pytest.mark.parametrize(
    ("run", "now", "state"),
    [
        (None, datetime(2026, 11, 21, 6, 59, tzinfo=UTC), "not due"),
        (None, DUE, "missing"),
        ((1, RunStatus.SUCCEEDED, datetime(2026, 11, 20, 22, 40, tzinfo=UTC)), DUE, "on time"),
        ((1, RunStatus.COMPLETED_WITH_EXCEPTIONS, datetime(2026, 11, 21, 7, 1, tzinfo=UTC)), DUE, "late"),
        ((1, RunStatus.FAILED, datetime(2026, 11, 20, 22, 40, tzinfo=UTC)), DUE, "failed"),
        ((1, RunStatus.RUNNING, None), datetime(2026, 11, 21, 6, tzinfo=UTC), "running"),
        ((1, RunStatus.RUNNING, None), DUE, "late"),
    ],
)
def test_freshness_against_the_deadline(run: tuple | None, now: datetime, state: str) -> None:  # type: ignore[type-arg]
    assert freshness("D-1 prices", "prices", DUE, run, now).state == state


def test_mtm_sums_and_the_change_over_lines_valued_on_both_dates() -> None:
    groups = group_mtm(
        [
            ("LME-AL", "USD", D("635.00"), D("500.00")),
            ("LME-AL", "USD", D("-635.00"), None),  # new today: in the sum, not in the change
            ("LME-CU", "USD", D("10.10"), D("0.05")),
        ]
    )
    assert [(g.key, g.contracts, g.mtm, g.previous, g.change) for g in groups] == [
        ("LME-AL", 2, D("0.00"), D("500.00"), D("135.00")),  # 635.00 - 500.00
        ("LME-CU", 1, D("10.10"), D("0.05"), D("10.05")),
    ]


def test_regression_points_are_the_changes_the_test_regressed() -> None:
    days = [date(2026, 11, d) for d in (16, 17, 18)]
    h = {days[0]: D("100.00"), days[1]: D("150.00"), days[2]: D("90.00")}
    i = {days[0]: D("-90.00"), days[1]: D("-140.00"), days[2]: D("-80.00")}
    points = regression_points(days, h, i, D("0.5"))
    # ΔH = H(b) - H(a); ΔI = hedge ratio x (I(b) - I(a))
    assert [(p.delta_h, p.delta_i) for p in points] == [(D("50.00"), D("-25.000")), (D("-60.00"), D("30.000"))]
    assert regression_points([*days, date(2026, 11, 19)], h, i, D("1")) == "no snapshot of both legs on 2026-11-19"
    assert stored_dates({"dates": ["2026-11-16", "2026-11-17"]}) == days[:2]


def test_offset_points_in_date_order_none_when_inconclusive() -> None:
    points = offset_points(
        [
            (date(2026, 11, 30), {"cumulative": {"ratio": "1.020408"}, "periodic": {"ratio": "0.98"}}),
            (date(2026, 11, 20), {"cumulative": {"ratio": None}, "periodic": {}}),
        ]
    )
    assert [(p.day.day, p.cumulative, p.periodic) for p in points] == [(20, None, None), (30, D("1.020408"), D("0.98"))]
