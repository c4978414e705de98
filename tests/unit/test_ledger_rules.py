"""Rules of the run ledger: how a run ends, when a run is abandoned, how work is chunked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.ledger import chunks, combined_status, exceptions_error, final_status, is_abandoned, shortfalls
from core.values import Counts, RunStatus, WriteOutcome

SUCCEEDED, CONFLICTS, FAILED, RUNNING = (
    RunStatus.SUCCEEDED,
    RunStatus.COMPLETED_WITH_CONFLICTS,
    RunStatus.FAILED,
    RunStatus.RUNNING,
)
COMPLETED_WITH_EXCEPTIONS = EXCEPTIONS = RunStatus.COMPLETED_WITH_EXCEPTIONS


class TestFinalStatus:
    @pytest.mark.parametrize(
        ("counts", "error", "expected"),
        [
            pytest.param(Counts(), None, SUCCEEDED, id="nothing-to-do"),
            pytest.param(Counts(processed=10, created=10), None, SUCCEEDED, id="all-created"),
            pytest.param(Counts(processed=10, existing=10), None, SUCCEEDED, id="rerun-all-existing"),
            # a price_unavailable exception is a business outcome: not a failure, not a success either
            pytest.param(Counts(processed=10, created=7, exceptions=3), None, EXCEPTIONS, id="exceptions"),
            pytest.param(
                Counts(processed=10, created=7, exceptions=3, conflicts=1),
                None,
                CONFLICTS,
                id="conflicts-beat-exceptions",
            ),
            pytest.param(Counts(processed=10, created=9, conflicts=1), None, CONFLICTS, id="one-conflict"),
            pytest.param(Counts(), "database is down", FAILED, id="error"),
            pytest.param(Counts(processed=10, conflicts=2), "worker lost", FAILED, id="error-beats-conflicts"),
        ],
    )
    def test_status_of_a_finished_run(self, counts: Counts, error: str | None, expected: RunStatus) -> None:
        assert final_status(counts, error) is expected

    @pytest.mark.parametrize(("shortfalls", "expected"), [(0, SUCCEEDED), (1, EXCEPTIONS)])
    def test_a_missing_price_or_a_failed_source_is_not_a_success(self, shortfalls: int, expected: RunStatus) -> None:
        assert final_status(Counts(processed=3, created=3), shortfalls=shortfalls) is expected

    @pytest.mark.parametrize(
        ("details", "expected"),
        [
            ({}, 0),
            ({"price_missing": [{"symbol": "LME-NI"}], "failed_sources": [{"source": "http"}]}, 2),
            ({"price_missing": None}, 0),
        ],
    )
    def test_shortfalls_from_the_details(self, details: dict[str, object], expected: int) -> None:
        assert shortfalls(details) == expected

    def test_the_exceptions_error_names_each_failure(self) -> None:
        details = {"failures": ["5001234: credential_unavailable", "5001235: ipc_timeout"]}
        assert (
            exceptions_error("{n} account(s) failed to sync: {failures}", 2, details)
            == "2 account(s) failed to sync: 5001234: credential_unavailable; 5001235: ipc_timeout"
        )


class TestCombinedStatus:
    @pytest.mark.parametrize(
        ("steps", "expected"),
        [
            pytest.param([], SUCCEEDED, id="no-steps"),
            pytest.param([SUCCEEDED], SUCCEEDED, id="one-success"),
            pytest.param([SUCCEEDED, SUCCEEDED], SUCCEEDED, id="all-succeeded"),
            pytest.param([SUCCEEDED, CONFLICTS], CONFLICTS, id="conflicts-beat-success"),
            pytest.param([CONFLICTS, SUCCEEDED], CONFLICTS, id="order-does-not-matter"),
            pytest.param([SUCCEEDED, FAILED], FAILED, id="failure-beats-success"),
            pytest.param([CONFLICTS, FAILED, SUCCEEDED], FAILED, id="failure-beats-conflicts"),
            pytest.param([EXCEPTIONS, SUCCEEDED], EXCEPTIONS, id="exceptions-beat-success"),
            pytest.param([EXCEPTIONS, CONFLICTS], CONFLICTS, id="conflicts-beat-exceptions"),
            pytest.param([EXCEPTIONS, FAILED], FAILED, id="failure-beats-exceptions"),
        ],
    )
    def test_the_worst_step_wins(self, steps: list[RunStatus], expected: RunStatus) -> None:
        assert combined_status(steps) is expected


T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
FIVE_MINUTES = timedelta(minutes=5)


class TestIsAbandoned:
    @pytest.mark.parametrize(
        ("now", "expected"),
        [
            pytest.param(T0, False, id="just-beat"),
            pytest.param(T0 + timedelta(minutes=4, seconds=59), False, id="within"),
            pytest.param(T0 + FIVE_MINUTES, False, id="exactly-at-the-limit"),
            pytest.param(T0 + FIVE_MINUTES + timedelta(microseconds=1), True, id="just-past"),
            pytest.param(T0 + timedelta(hours=3), True, id="long-dead"),
            # another worker's clock a little ahead: a heartbeat "in the future" is alive
            pytest.param(T0 - timedelta(seconds=30), False, id="heartbeat-after-now"),
        ],
    )
    def test_stale_after_the_limit(self, now: datetime, expected: bool) -> None:
        assert is_abandoned(T0, now, FIVE_MINUTES) is expected


class TestChunks:
    @pytest.mark.parametrize(
        ("ids", "size", "expected"),
        [
            pytest.param(list(range(1, 11)), 3, [[1, 2, 3], [4, 5, 6], [7, 8, 9], [10]], id="remainder"),
            pytest.param(list(range(1, 7)), 3, [[1, 2, 3], [4, 5, 6]], id="exact-multiple"),
            pytest.param([1, 2, 3], 10, [[1, 2, 3]], id="size-larger-than-list"),
            pytest.param([5, 3, 9], 1, [[5], [3], [9]], id="size-one-keeps-order"),
            pytest.param([], 4, [], id="empty"),
        ],
    )
    def test_consecutive_chunks_of_at_most_size(self, ids: list[int], size: int, expected: list[list[int]]) -> None:
        assert chunks(ids, size) == expected

    @pytest.mark.parametrize("size", [0, -1])
    def test_size_below_one_is_refused(self, size: int) -> None:
        with pytest.raises(ValueError, match="at least 1"):
            chunks([1, 2, 3], size)

    @settings(database=None)
    @given(st.lists(st.integers()), st.integers(min_value=1, max_value=50))
    def test_chunks_put_back_together_give_the_ids(self, ids: list[int], size: int) -> None:
        parts = chunks(ids, size)

        assert [i for part in parts for i in part] == ids
        assert all(len(part) == size for part in parts[:-1])
        assert all(1 <= len(part) <= size for part in parts)
        assert len(parts) == -(-len(ids) // size)  # ceil(len / size)


class TestRunStatus:
    @pytest.mark.parametrize(
        ("status", "finished"), [(RUNNING, False), (SUCCEEDED, True), (CONFLICTS, True), (FAILED, True)]
    )
    def test_only_running_is_unfinished(self, status: RunStatus, finished: bool) -> None:
        assert status.finished is finished


class TestCounts:
    def test_each_outcome_is_counted_once(self) -> None:
        counts = Counts(processed=4)
        for outcome in (WriteOutcome.CREATED, WriteOutcome.CREATED, WriteOutcome.EXISTING, WriteOutcome.CONFLICT):
            counts.record(outcome)

        assert counts.as_dict() == {"processed": 4, "created": 2, "existing": 1, "conflicts": 1, "exceptions": 0}

    def test_chunk_counts_add_up(self) -> None:
        total = Counts()
        total.add(Counts(processed=3, created=2, existing=1))
        total.add(Counts(processed=2, conflicts=1, exceptions=1))

        assert total == Counts(processed=5, created=2, existing=1, conflicts=1, exceptions=1)
