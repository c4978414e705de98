"""The grid of runs, shaped in core: each (job, business date) cell with the latest run,
`missing` for a business date never run, and backfill's own plan beside it."""

from __future__ import annotations

from datetime import date

import pytest

from core.backfill import Reprocess
from core.run_grid import LatestRun, build_grid
from core.values import RunStatus

MON, TUE, WED, SAT = date(2026, 11, 16), date(2026, 11, 17), date(2026, 11, 18), date(2026, 11, 21)
RUNS = {
    ("mtm", MON): LatestRun(1, RunStatus.SUCCEEDED, 1),
    ("mtm", TUE): LatestRun(7, RunStatus.FAILED, 2, "worker lost"),
    ("mtm", SAT): LatestRun(9, RunStatus.COMPLETED_WITH_EXCEPTIONS, 1),  # a manual run on a weekend
}


@pytest.mark.parametrize(
    ("reprocess", "day", "label"),
    [
        (Reprocess.NONE, MON, "succeeded #1"),
        (Reprocess.NONE, TUE, "failed #7 x2"),
        (Reprocess.FAILED, TUE, "failed #7 x2 > backfill"),
        (Reprocess.NONE, WED, "missing > backfill"),
        (Reprocess.ALL, MON, "succeeded #1 > backfill"),
        (Reprocess.ALL, SAT, "completed_with_exceptions #9"),  # not a business date: never planned
        (Reprocess.NONE, SAT, "completed_with_exceptions #9"),
    ],
)
def test_each_cell_says_its_run_and_the_plan(reprocess: Reprocess, day: date, label: str) -> None:
    grid = build_grid(["mtm"], [MON, TUE, WED], RUNS, calendar="WEEKDAYS", reprocess=reprocess)
    assert grid.cell("mtm", day).label == label


def test_dates_newest_first_other_jobs_missing_and_counted() -> None:
    grid = build_grid(["nightly", "mtm"], [MON, TUE, WED], RUNS, calendar="WEEKDAYS")
    assert grid.days == (SAT, WED, TUE, MON)
    assert [grid.cell("nightly", d).state for d in grid.days] == ["-", "missing", "missing", "missing"]
    assert grid.counts() == {"completed_with_exceptions": 1, "failed": 1, "missing": 4, "succeeded": 1}
    assert grid.to_backfill("mtm") == [WED]
    assert grid.to_backfill("nightly") == [WED, TUE, MON]
