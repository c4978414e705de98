"""The morning pack's figures (pure): each dataset's freshness against its business
deadline, what needs a person (each with the command that shows it), and MTM summed by a
key (underlying, counterparty) with the change from the previous date.

A dataset of as-of date D is due on the morning after D (the nightly of D runs on D's
evening): its deadline is a local time in an IANA zone on D + 1 day, e.g. `07:00
Europe/London` for the D-1 prices the nightly of D fetched.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.values import RunStatus

#: The datasets of a night and the job that makes each.
DATASETS = {"D-1 prices": "prices", "MTM snapshots": "mtm", "effectiveness": "effectiveness", "postings": "postings"}
DEFAULT_DEADLINES = {
    "prices": "07:00 Europe/London",
    "mtm": "07:00 Europe/London",
    "effectiveness": "07:30 Europe/London",
    "postings": "08:00 Europe/London",
}


@dataclass(frozen=True, slots=True)
class Deadline:
    at: time
    zone: str

    @classmethod
    def parse(cls, text: str) -> Deadline:
        """`HH:MM Area/City`; ValueError when it is not."""
        parts = text.split()
        if len(parts) != 2:
            raise ValueError(f"deadline {text!r}: expected 'HH:MM Area/City', e.g. '07:00 Europe/London'")
        try:
            at = time.fromisoformat(parts[0])
            ZoneInfo(parts[1])
        except (ValueError, ZoneInfoNotFoundError) as exc:
            raise ValueError(f"deadline {text!r}: {exc}") from None
        return cls(at, parts[1])

    def of(self, day: date) -> datetime:
        """The deadline of as-of date `day` in UTC: its local time on the day after."""
        local = datetime.combine(day + timedelta(days=1), self.at, tzinfo=ZoneInfo(self.zone))
        return local.astimezone(UTC)

    def __str__(self) -> str:
        return f"{self.at.strftime('%H:%M')} {self.zone}"


@dataclass(frozen=True, slots=True)
class Freshness:
    dataset: str
    job: str
    deadline: datetime
    state: str  # on time, late, failed, running, missing, not due
    run_id: int | None = None
    status: str | None = None
    finished_at: datetime | None = None


def freshness(
    dataset: str, job: str, deadline: datetime, run: tuple[int, RunStatus, datetime | None] | None, now: datetime
) -> Freshness:
    """The latest run of the dataset's job for D (id, status, end) against its deadline:
    `missing` once the deadline passed without a run (`not due` before), `failed`,
    `running`, else `on time` or `late` by when it ended."""
    if run is None:
        return Freshness(dataset, job, deadline, "missing" if now >= deadline else "not due")
    run_id, status, finished = run
    if status is RunStatus.FAILED:
        state = "failed"
    elif status is RunStatus.RUNNING or finished is None:
        state = "late" if now >= deadline else "running"
    else:
        state = "on time" if finished <= deadline else "late"
    return Freshness(dataset, job, deadline, state, run_id, status.value, finished)


@dataclass(frozen=True, slots=True)
class Attention:
    """Something that needs a person: what, the detail, and the command that shows it."""

    kind: str
    detail: str
    command: str


@dataclass(frozen=True, slots=True)
class MtmGroup:
    key: str
    currency: str
    contracts: int
    mtm: Decimal
    previous: Decimal | None
    change: Decimal | None


def group_mtm(lines: Iterable[tuple[str, str, Decimal, Decimal | None]]) -> list[MtmGroup]:
    """Sum MTM per (key, currency) over (key, currency, mtm, previous mtm) lines; the change is
    mtm - previous over the lines valued on both dates (None when none was). Exact Decimal
    sums of 2 dp amounts: no rounding."""
    groups: dict[tuple[str, str], MtmGroup] = {}
    for key, currency, mtm, previous in lines:
        g = groups.get((key, currency)) or MtmGroup(key, currency, 0, Decimal(0), None, None)
        if previous is not None:
            g = replace(
                g, previous=(g.previous or Decimal(0)) + previous, change=(g.change or Decimal(0)) + mtm - previous
            )
        groups[(key, currency)] = replace(g, contracts=g.contracts + 1, mtm=g.mtm + mtm)
    return [groups[k] for k in sorted(groups)]
