"""Which state a task that ended runs reports (tasks.outcomes): a business outcome is no
failure; a failed run among them is."""

from __future__ import annotations

from tasks.outcomes import business_outcome


def ended(*statuses: str) -> list[dict[str, str]]:
    return [{"status": s} for s in statuses]


class TestBusinessOutcome:
    def test_exceptions_alone(self) -> None:
        assert business_outcome(ended("completed_with_exceptions")) == "completed_with_exceptions"

    def test_conflicts_outrank_exceptions(self) -> None:
        both = ended("completed_with_exceptions", "completed_with_conflicts")
        assert business_outcome(both) == "completed_with_conflicts"

    def test_a_failed_run_is_a_failure(self) -> None:
        assert business_outcome(ended("completed_with_exceptions", "failed")) is None

    def test_nothing_ended_badly(self) -> None:
        assert business_outcome([]) is None
