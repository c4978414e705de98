"""The grid of runs: jobs by business date, each cell the latest run of (job, date), its
attempts, and what `backfill --dry-run` would do with it (core.backfill's plan, the same
function: the grid cannot show another plan than the one a backfill acts on).

A business date of the calendar with no run is `missing`; a date outside the calendar
(a holiday, a weekend) shows only when something ran on it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from core.backfill import PlannedDate, Reprocess, plan
from core.values import RunStatus

MISSING = "missing"
NOT_BUSINESS = "-"


@dataclass(frozen=True, slots=True)
class LatestRun:
    """The newest attempt of a (job, date): its run id, status, attempt number and error."""

    run_id: int
    status: RunStatus
    attempts: int
    error: str | None = None


@dataclass(frozen=True, slots=True)
class GridCell:
    job: str
    day: date
    run: LatestRun | None
    planned: PlannedDate | None  # None: not a business date of the calendar

    @property
    def state(self) -> str:
        """The run's status; `missing` for a business date never run; `-` otherwise."""
        if self.run is not None:
            return self.run.status.value
        return MISSING if self.planned is not None else NOT_BUSINESS

    @property
    def label(self) -> str:
        """The cell as both views print it: `failed #12 x2 > backfill` (status, run id,
        attempts when more than one, and `> backfill` when a backfill would run the date)."""
        parts = [self.state]
        if self.run is not None:
            parts.append(f"#{self.run.run_id}")
            if self.run.attempts > 1:
                parts.append(f"x{self.run.attempts}")
        if self.planned is not None and self.planned.run:
            parts.append("> backfill")
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class RunGrid:
    jobs: tuple[str, ...]
    days: tuple[date, ...]
    cells: Mapping[tuple[str, date], GridCell]
    calendar: str
    reprocess: Reprocess

    def cell(self, job: str, day: date) -> GridCell:
        return self.cells[(job, day)]

    def counts(self) -> dict[str, int]:
        """How many cells in each state, `-` left out."""
        counted = Counter(c.state for c in self.cells.values() if c.state != NOT_BUSINESS)
        return dict(sorted(counted.items()))

    def to_backfill(self, job: str) -> list[date]:
        """The dates `backfill JOB --dry-run` over the same range would run."""
        return [d for d in self.days if (p := self.cells[(job, d)].planned) is not None and p.run]


def build_grid(
    jobs: Sequence[str],
    business_days: Sequence[date],
    runs: Mapping[tuple[str, date], LatestRun],
    *,
    calendar: str,
    reprocess: Reprocess = Reprocess.NONE,
) -> RunGrid:
    """Every (job, date) of the business days and of the dates something ran on, newest
    date first; each business date planned as `backfill` plans it for that job."""
    days = tuple(sorted(set(business_days) | {day for _, day in runs}, reverse=True))
    cells: dict[tuple[str, date], GridCell] = {}
    for job in jobs:
        latest = {day: run.status for (j, day), run in runs.items() if j == job}
        planned = {p.day: p for p in plan(business_days, latest, reprocess)}
        for day in days:
            cells[(job, day)] = GridCell(job, day, runs.get((job, day)), planned.get(day))
    return RunGrid(tuple(jobs), days, cells, calendar, reprocess)
