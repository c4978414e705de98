"""A task whose arguments do not validate, on a real worker: the result backend holds the
error with its message, as Flower shows it (issue 21, point 2). It held
`ValidationError([])`: pydantic's error has no `args` for Celery's JSON serializer."""

from __future__ import annotations

import json

import pytest

from tests.cluster import Cluster

pytestmark = pytest.mark.e2e


def test_a_bad_as_of_reaches_the_result_backend_with_its_message(cluster: Cluster) -> None:
    proc = cluster.worker("payloads")
    try:
        # 50 KB: under HEDGEOPS_MAX_MESSAGE_KB (64); a larger message is refused where it is sent (scenario 16).
        result = cluster.trigger("hedgeops.valuation.compute_mtm_snapshots", as_of="token=hunter2-" + "A" * 50_000)
        with pytest.raises(Exception) as caught:
            result.get(timeout=60)
        backend = cluster.app.backend
        raw = backend.get(backend.get_key_for_task(result.id))  # the JSON as stored, Flower's source
    finally:
        cluster.stop(proc)
    assert type(caught.value).__name__ == "InvalidPayload"
    message = "JobRequest: as_of: Input should be a valid date or datetime, invalid character in year"
    assert str(caught.value) == message
    stored = json.loads(raw)
    assert stored["status"] == "FAILURE"
    assert (stored["result"]["exc_type"], stored["result"]["exc_message"]) == ("InvalidPayload", [message])
    assert "hunter2" not in str(raw) and "AAAA" not in str(raw)
