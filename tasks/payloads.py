"""Task arguments, validated: tasks take ids and dates as JSON, never ORM objects."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from core.values import Trigger


class JobRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    as_of: date | None = None
    trigger: Trigger = Trigger.MANUAL
    parent_run_id: int | None = None

    def as_of_or(self, today: date) -> date:
        """The as-of date; today (UTC) when beat sends none. Never after today."""
        day = self.as_of or today
        if day > today:
            raise ValueError(f"as_of {day.isoformat()} is after today ({today.isoformat()})")
        return day


class ChunkRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: int
    chunk_no: Annotated[int, Field(ge=0)]
    contract_ids: Annotated[list[int], Field(min_length=1, max_length=100_000)]


class RunRef(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: int


class RangeChunkRequest(BaseModel):
    """A chunk of a keyset plan: the ids from `first_id` to `last_id`, both included."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: int
    chunk_no: Annotated[int, Field(ge=0)]
    first_id: int
    last_id: int
