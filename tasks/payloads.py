"""Task arguments, validated: tasks take ids and dates as JSON, never ORM objects.

Arguments that do not validate raise `InvalidPayload`, a plain exception whose one
argument is its message: Celery's JSON result serializer stores an exception as its type and
`args`, and pydantic's `ValidationError` has none (it reached the result backend, and so
Flower, as `ValidationError([])`). The message names each field and what is wrong with it,
never the value sent (a caller chooses it: 5 MB of it in issue 21), bounded and redacted."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import HedgeopsError
from core.redaction import redact_text
from core.rows import describe
from core.values import Trigger

#: Characters of an `InvalidPayload` message kept (a field name is the caller's too).
MAX_MESSAGE = 500


class InvalidPayload(HedgeopsError):
    """A task's arguments do not validate: `ChunkRequest: chunk_no: Input should be ...`.
    Not a ValueError: pydantic would wrap one raised inside validation again."""

    @classmethod
    def of(cls, model: type[BaseModel], error: ValidationError) -> InvalidPayload:
        text = redact_text(f"{model.__name__}: {describe(error)}")  # before cutting: no half secret
        return cls(text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…")


class Payload(BaseModel):
    """A task payload: validating it (`Model(**fields)` or `Model.model_validate(mapping)`,
    which pydantic runs through this `__init__`) raises `InvalidPayload`, never a pydantic
    error."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    if not TYPE_CHECKING:  # mypy keeps checking each model's fields by their types

        def __init__(self, /, **data: Any) -> None:
            try:
                super().__init__(**data)
            except ValidationError as error:
                raise InvalidPayload.of(type(self), error) from None


class JobRequest(Payload):
    as_of: date | None = None
    trigger: Trigger = Trigger.MANUAL
    parent_run_id: int | None = None

    def as_of_or(self, today: date) -> date:
        """The as-of date; today (UTC) when beat sends none. Never after today."""
        day = self.as_of or today
        if day > today:
            raise ValueError(f"as_of {day.isoformat()} is after today ({today.isoformat()})")
        return day


class ChunkRequest(Payload):
    run_id: int
    chunk_no: Annotated[int, Field(ge=0)]
    contract_ids: Annotated[list[int], Field(min_length=1, max_length=100_000)]


class RunRef(Payload):
    run_id: int


class RangeChunkRequest(Payload):
    """A chunk of a keyset plan: the ids from `first_id` to `last_id`, both included."""

    run_id: int
    chunk_no: Annotated[int, Field(ge=0)]
    first_id: int
    last_id: int
