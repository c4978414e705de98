"""A task's arguments that do not validate reach the result backend, and so Flower, with
their message (issue 21, point 2): `InvalidPayload`, a plain ValueError whose message names
the field and never the value sent, redacted. It was pydantic's ValidationError, whose
`args` are empty: the JSON result serializer stored `ValidationError([])`."""

from __future__ import annotations

from datetime import date

import pytest
from kombu.serialization import dumps, loads

from tasks.payloads import MAX_MESSAGE, InvalidPayload, JobRequest, RangeChunkRequest
from workers.celery_app import create_app
from workers.settings import load_settings

#: Named, never connected to: the backend only serialises here.
REDIS = "redis://127.0.0.1:6379/15"
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def through_json_backend(exc: BaseException) -> BaseException:
    """What a worker stores for a failed task and what a client (Flower) reads back, through
    Celery's JSON result serializer."""
    backend = create_app(load_settings(database_url=PG, broker_url=REDIS, result_backend=REDIS)).backend
    meta = backend.prepare_exception(exc, serializer="json")
    content_type, encoding, body = dumps({"status": "FAILURE", "result": meta}, serializer="json")  # type: ignore[no-untyped-call]
    stored = loads(body, content_type, encoding)  # type: ignore[no-untyped-call]
    read: BaseException = backend.exception_to_python(stored["result"])
    return read


def test_a_bad_as_of_reaches_the_backend_with_its_message() -> None:
    with pytest.raises(InvalidPayload) as caught:
        JobRequest.model_validate({"as_of": "A" * 100_000})
    read = through_json_backend(caught.value)
    assert type(read).__name__ == "InvalidPayload"
    assert str(read) == "JobRequest: as_of: Input should be a valid date or datetime, invalid character in year"
    assert "AAAA" not in str(read)


def test_a_bad_chunk_names_each_field_and_no_value() -> None:
    with pytest.raises(InvalidPayload) as caught:
        RangeChunkRequest(run_id=1, chunk_no=-1, first_id="x" * 5_000_000, last_id=1)
    message = str(through_json_backend(caught.value))
    assert message.startswith("RangeChunkRequest: chunk_no: Input should be greater than or equal to 0; first_id: ")
    assert "xxxx" not in message


def test_a_message_is_bounded_and_redacted() -> None:
    extra = {f"password=hunter2-{i}": 1 for i in range(100)}  # field names are the caller's too
    with pytest.raises(InvalidPayload) as caught:
        JobRequest.model_validate(extra)
    message = str(through_json_backend(caught.value))
    assert len(message) <= MAX_MESSAGE
    assert "hunter2" not in message
    assert message.startswith("JobRequest: password=*** Extra inputs are not permitted; password=***")


def test_a_valid_payload_still_validates() -> None:
    assert JobRequest.model_validate({"as_of": "2026-11-20"}).as_of == date(2026, 11, 20)
    assert RangeChunkRequest(run_id=1, chunk_no=0, first_id=1, last_id=9).last_id == 9
