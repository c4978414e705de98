"""Which dates a backfill runs: each business date its own run; what already ran is
skipped unless asked to reprocess it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from core.values import RunStatus


class Reprocess(StrEnum):
    NONE = "none"  # run only dates that never ended well (resuming an interrupted backfill)
    FAILED = "failed"  # also dates whose latest run failed
    ALL = "all"  # every date again (its results come back `existing`)


@dataclass(frozen=True, slots=True)
class PlannedDate:
    day: date
    run: bool
    reason: str


def plan(days: Sequence[date], latest: Mapping[date, RunStatus], reprocess: Reprocess) -> list[PlannedDate]:
    """`latest` is the status of each date's newest run (dates never run are absent)."""
    planned = []
    for day in days:
        status = latest.get(day)
        if status is None:
            planned.append(PlannedDate(day, True, "never run"))
        elif status is RunStatus.RUNNING:
            planned.append(PlannedDate(day, False, "running now"))
        elif reprocess is Reprocess.ALL:
            planned.append(PlannedDate(day, True, f"reprocess all (was {status.value})"))
        elif status is RunStatus.FAILED:
            planned.append(
                PlannedDate(
                    day,
                    reprocess is Reprocess.FAILED,
                    "failed: reprocess"
                    if reprocess is Reprocess.FAILED
                    else "failed: kept (--reprocess failed runs it)",
                )
            )
        else:
            planned.append(PlannedDate(day, False, f"done ({status.value})"))
    return planned
