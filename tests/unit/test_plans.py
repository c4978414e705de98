"""Key-range chunk plans: the first id of each chunk and the last id make the ranges."""

from __future__ import annotations

import pytest

from core.plans import KeyRange, key_ranges


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
