"""Chunk plans by key ranges: a chunk names the first and last id it covers, not every id.

A plan of a million contracts is then a thousand pairs of integers, not a million ids in
the messages. What each chunk must value is fixed when planned (issue 21, point 1): its
members, runs of consecutive ids kept with the chunk's plan row (a thousand pairs for a
book of consecutive ids); a chunk values exactly those, whatever changed since, and the
run's end compares its results with them.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from itertools import pairwise

from pydantic import BaseModel, ConfigDict

from core.keys import mtm_exception_key
from core.mtm_results import MtmException
from core.run_details import DetailsPart
from core.values import Contract, ContractStatus, ExceptionReason, ObjectType


@dataclass(frozen=True, slots=True)
class KeyRange:
    """The ids `first` to `last`, both included."""

    first: int
    last: int

    def __post_init__(self) -> None:
        if self.first > self.last:
            raise ValueError(f"empty key range {self.first}..{self.last}")

    def as_message(self) -> dict[str, int]:
        """The range as a chunk task's JSON arguments."""
        return {"first_id": self.first, "last_id": self.last}


def key_ranges(starts: Sequence[int], last: int) -> list[KeyRange]:
    """Consecutive ranges from the first id of each chunk (ascending) and the last id of
    the last: chunk i runs from starts[i] to the id before starts[i + 1]."""
    if not starts:
        return []
    if any(a >= b for a, b in pairwise(starts)) or last < starts[-1]:
        raise ValueError("chunk starts must ascend and end at or before the last id")
    ends = [nxt - 1 for nxt in starts[1:]] + [last]
    return [KeyRange(first, end) for first, end in zip(starts, ends, strict=True)]


# -- what a run must value (issue 21, point 1) -------------------------------------------------

#: Runs of consecutive ids, each [first, last] (both included), ascending and apart: how a
#: chunk plan keeps its members. A book of consecutive active ids is one pair per chunk.
IdRuns = list[list[int]]


def id_runs(ids: Iterable[int]) -> IdRuns:
    """The ids (ascending, distinct) as runs of consecutive ids."""
    runs: IdRuns = []
    for i in ids:
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        elif runs and i <= runs[-1][1]:
            raise ValueError(f"ids must ascend, without repeats: {i} after {runs[-1][1]}")
        else:
            runs.append([i, i])
    return runs


def expand(runs: Sequence[Sequence[int]]) -> list[int]:
    """The ids of runs of consecutive ids, ascending."""
    return [i for first, last in runs for i in range(first, last + 1)]


def run_count(runs: Sequence[Sequence[int]]) -> int:
    return sum(last - first + 1 for first, last in runs)


def merged(runs: Iterable[Sequence[int]]) -> IdRuns:
    """Runs in any order, overlapping or touching (two chunks' hedged items may share one),
    as the fewest ascending runs of the same ids."""
    joined: IdRuns = []
    for first, last in sorted((int(a), int(b)) for a, b in runs):
        if joined and first <= joined[-1][1] + 1:
            joined[-1][1] = max(joined[-1][1], last)
        else:
            joined.append([first, last])
    return joined


def fingerprint(runs: Sequence[Sequence[int]]) -> str:
    """sha256 of the runs' text (`first-last` joined by `,`) once merged: the same set gives
    the same fingerprint however it was chunked."""
    return hashlib.sha256(",".join(f"{a}-{b}" for a, b in merged(runs)).encode()).hexdigest()


class PlannedSet(BaseModel):
    """How many objects of a kind a run planned to value, and their fingerprint."""

    model_config = ConfigDict(frozen=True)

    count: int
    fingerprint: str

    @classmethod
    def of(cls, runs: Sequence[Sequence[int]]) -> PlannedSet:
        return cls(count=run_count(merged(runs)), fingerprint=fingerprint(runs))


class CoveragePlan(DetailsPart):
    """What a run records of the set it must cover: per object type (`hedge_contract`,
    `hedged_item`) its count and fingerprint, fixed when planned; and, once ended, how many
    planned objects had neither a snapshot nor an exception (each a `not_valued` exception)."""

    planned: dict[str, PlannedSet] | None = None
    not_valued: int | None = None


def planned_sets(members: Iterable[Mapping[str, Sequence[Sequence[int]]]]) -> dict[str, IdRuns]:
    """The chunks' members joined per object type, each id once."""
    joined: dict[str, IdRuns] = {}
    for chunk in members:
        for kind, runs in chunk.items():
            joined.setdefault(kind, []).extend([list(r) for r in runs])
    return {kind: merged(runs) for kind, runs in joined.items()}


def uncovered(runs: Sequence[Sequence[int]], covered: Collection[int]) -> list[int]:
    """The planned ids that are not among `covered` (ids with a snapshot or an exception),
    without listing the planned ids first (a million a run)."""
    return [i for first, last in runs for i in range(first, last + 1) if i not in covered]


class IdRunSet(Collection[int]):
    """Ascending distinct ids kept as runs of consecutive ids (id_runs): a run's covered ids
    are mostly one run, so a million of them take a few bytes, not a set's 60 MiB."""

    __slots__ = ("_runs", "_starts")

    def __init__(self, ids: Iterable[int]) -> None:
        self._runs = id_runs(ids)
        self._starts = [first for first, _ in self._runs]

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int):
            return False
        at = bisect_right(self._starts, value) - 1
        return at >= 0 and value <= self._runs[at][1]

    def __iter__(self) -> Iterator[int]:
        return iter(expand(self._runs))

    def __len__(self) -> int:
        return run_count(self._runs)


def as_planned(contracts: Iterable[Contract]) -> list[Contract]:
    """The contracts a plan listed, each valued whatever its status is now: the plan found it
    revaluing, and a status change during the run takes effect from the next run. One whose
    status no longer revalues is valued as the active contract it was (a status is no field
    of a snapshot)."""
    return [c if c.status.revalues else replace(c, status=ContractStatus.ACTIVE) for c in contracts]


def not_valued(object_type: ObjectType, object_ids: Iterable[int], as_of: date) -> list[MtmException]:
    """The objects a run planned that have neither a snapshot nor an exception at its end:
    each an exception `not_valued`, so the gap is named and counted. Its details name no
    run, so a later attempt finding the same gap writes the same row (`existing`)."""
    reason = ExceptionReason.NOT_VALUED
    return [
        MtmException(mtm_exception_key(object_type, i, as_of, reason), i, as_of, reason, {}, object_type)
        for i in object_ids
    ]
