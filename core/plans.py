"""Chunk plans by key ranges: a chunk names the first and last id it covers, not every id.

A plan of a million contracts is then a thousand pairs of integers, not a million ids in
one process and in the messages; each chunk reads its own rows by range when it runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise


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
