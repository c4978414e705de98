"""Chunk plans: the first id of each chunk and the last id make the key ranges; the members
kept with each chunk fix what it values (issue 21, point 1)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from core.plans import (
    IdRuns,
    IdRunSet,
    KeyRange,
    PlannedSet,
    as_planned,
    expand,
    fingerprint,
    id_runs,
    key_ranges,
    merged,
    not_valued,
    planned_sets,
    run_count,
    uncovered,
)
from core.values import Contract, ContractStatus, ExceptionReason, Instrument, ObjectType, Side


class TestKeyRanges:
    @pytest.mark.parametrize(
        ("starts", "last", "expected"),
        [
            ([], 0, []),
            ([1], 1, [KeyRange(1, 1)]),
            ([1, 4, 9], 12, [KeyRange(1, 3), KeyRange(4, 8), KeyRange(9, 12)]),
            ([10, 11], 500, [KeyRange(10, 10), KeyRange(11, 500)]),
        ],
    )
    def test_consecutive_ranges_cover_every_id_once(
        self, starts: list[int], last: int, expected: list[KeyRange]
    ) -> None:
        assert key_ranges(starts, last) == expected

    @pytest.mark.parametrize(("starts", "last"), [([3, 2], 9), ([1, 1], 9), ([5, 9], 8)])
    def test_starts_out_of_order_or_past_the_end_are_refused(self, starts: list[int], last: int) -> None:
        with pytest.raises(ValueError):
            key_ranges(starts, last)

    def test_a_range_is_its_message_and_never_empty(self) -> None:
        assert KeyRange(7, 9).as_message() == {"first_id": 7, "last_id": 9}
        with pytest.raises(ValueError):
            KeyRange(9, 7)


class TestMembers:
    """What a chunk must value, kept as runs of consecutive ids (issue 21, point 1)."""

    @pytest.mark.parametrize(
        ("ids", "runs"),
        [
            ([], []),
            ([5], [[5, 5]]),
            ([1, 2, 3], [[1, 3]]),
            ([1, 2, 4, 7, 8], [[1, 2], [4, 4], [7, 8]]),
        ],
    )
    def test_ids_and_runs_are_one_another(self, ids: list[int], runs: IdRuns) -> None:
        assert id_runs(ids) == runs
        assert expand(runs) == ids
        assert run_count(runs) == len(ids)

    @pytest.mark.parametrize("ids", [[2, 1], [1, 1], [1, 3, 3]])
    def test_ids_out_of_order_or_repeated_are_refused(self, ids: list[int]) -> None:
        with pytest.raises(ValueError):
            id_runs(ids)

    def test_a_set_has_one_fingerprint_however_it_was_chunked(self) -> None:
        whole = fingerprint([[1, 10]])
        assert fingerprint([[1, 4], [5, 10]]) == whole == PlannedSet.of([[1, 3], [4, 10]]).fingerprint
        assert fingerprint([[1, 9]]) != whole
        assert fingerprint([[1, 4], [6, 10]]) != whole

    def test_chunks_members_join_per_object_type_each_id_once(self) -> None:
        chunks = [{"hedge_contract": [[1, 2]]}, {"hedge_contract": [[4, 6]]}, {"hedged_item": [[3, 3], [7, 9]]}]
        chunks += [{"hedged_item": [[3, 3], [5, 5], [8, 10]]}]  # items shared by two chunks' designations
        assert planned_sets(chunks) == {"hedge_contract": [[1, 2], [4, 6]], "hedged_item": [[3, 3], [5, 5], [7, 10]]}
        assert merged([[5, 6], [1, 2], [3, 4]]) == [[1, 6]]

    def test_uncovered_are_the_planned_ids_without_a_result(self) -> None:
        assert uncovered([[1, 3], [7, 8]], {1, 3, 8, 99}) == [2, 7]
        assert uncovered([[1, 3]], {1, 2, 3}) == []

    def test_covered_ids_as_runs_answer_as_the_set_does(self) -> None:
        ids = [1, 2, 3, 8, 10, 11, 99]
        kept = IdRunSet(iter(ids))  # streamed, ascending: kept as [1, 3], [8, 8], [10, 11], [99, 99]
        assert [i for i in range(0, 101) if i in kept] == ids
        assert list(kept) == ids and len(kept) == 7
        assert "3" not in kept and 3.5 not in kept
        assert uncovered([[1, 12]], kept) == uncovered([[1, 12]], set(ids)) == [4, 5, 6, 7, 9, 12]
        with pytest.raises(ValueError, match="ascend"):
            IdRunSet([3, 2])


class TestAsPlanned:
    @pytest.mark.parametrize(
        ("now", "valued_as"),
        [
            (ContractStatus.ACTIVE, ContractStatus.ACTIVE),
            (ContractStatus.DESIGNATED, ContractStatus.DESIGNATED),
            (ContractStatus.CANCELLED, ContractStatus.ACTIVE),  # cancelled after the plan: valued this run
        ],
    )
    def test_a_planned_contract_is_valued_whatever_its_status_now(
        self, now: ContractStatus, valued_as: ContractStatus
    ) -> None:
        contract = _contract(now)
        (planned,) = as_planned([contract])
        assert planned.status is valued_as
        assert replace(planned, status=now) == contract  # nothing else changes


class TestNotValued:
    def test_each_gap_is_an_exception_named_by_its_object(self) -> None:
        excs = not_valued(ObjectType.HEDGE_CONTRACT, [4, 9], date(2026, 11, 20))
        assert [(e.key, e.reason, e.details) for e in excs] == [
            ("MTMX:hedge_contract:4:2026-11-20:not_valued", ExceptionReason.NOT_VALUED, {}),
            ("MTMX:hedge_contract:9:2026-11-20:not_valued", ExceptionReason.NOT_VALUED, {}),
        ]


def _contract(status: ContractStatus) -> Contract:
    return Contract(
        id=1,
        contract_ref="K1",
        instrument=Instrument.COMMODITY_FORWARD,
        underlying="LME-AL",
        side=Side.BUY,
        quantity=Decimal("10"),
        unit="mt",
        entry_price=Decimal("2500"),
        currency="USD",
        trade_date=date(2026, 10, 1),
        maturity_date=date(2027, 3, 17),
        status=status,
    )
