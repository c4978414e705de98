"""The fast validator of vendor price rows (issue 23 point 4) accepts only what PriceRow
accepts, and makes the same row of it; whatever it declines, pydantic decides."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from core.prices import FastPriceRows, PriceRow
from core.rows import DateWindow

GOOD = {
    "symbol": "LME-AL",
    "price_date": "2026-11-19",
    "price": "2563.5000005",
    "currency": "USD",
    "unit": "mt",
    "price_type": "cash_settlement",
}


def pydantic_row(record: dict[str, str], window: DateWindow) -> PriceRow | None:
    try:
        return PriceRow.model_validate(record, context={"window": window})
    except ValidationError:
        return None


class TestFastRows:
    @pytest.mark.parametrize(
        ("field", "cell", "vouched"),
        [
            ("price", "2563.5000005", True),  # 6 dp half-even: 2563.500000 (the 5 is past the 6th place)
            ("price", "0.0000004", False),  # 0 at 6 dp
            ("price", "1e3", False),
            ("price", "１２３", False),  # fullwidth digits
            ("price", "999999999999999999.9999995", False),  # 10^18 at 6 dp
            ("price_date", "2026-02-30", False),
            ("price_date", "1989-12-31", False),  # outside the default window
            ("currency", "XYZ", False),
            ("currency", "usd", False),
            ("symbol", "lme-al", False),
            ("symbol", "LME-АL", False),  # a Cyrillic А
            ("unit", "mт", False),
            ("price_type", "Official", False),
            ("published_at", "2026-11-19T17:00:00Z", False),  # pydantic reads timestamps
            ("published_at", "", True),
        ],
    )
    def test_a_cell_decides_whether_the_fast_path_vouches(self, field: str, cell: str, vouched: bool) -> None:
        record = {**GOOD, field: cell}
        row = FastPriceRows()(record)
        assert (row is not None) == vouched
        if row is not None:
            assert row == pydantic_row(record, DateWindow())

    def test_a_narrow_window_is_the_fast_path_s_too(self) -> None:
        window = DateWindow(date(2026, 11, 1), date(2026, 11, 18))
        assert FastPriceRows(window)(GOOD) is None
        assert FastPriceRows(window)({**GOOD, "price_date": "2026-11-18"}) is not None

    @settings(max_examples=300, deadline=None)
    @given(
        st.fixed_dictionaries(
            {
                "symbol": st.sampled_from(["LME-AL", "EURUSD", "BRN.F", "lme", "LME AL", "", "A" * 33]),
                "price_date": st.sampled_from(["2026-11-19", "2026-13-01", "26-11-19", "1990-01-01", ""]),
                "price": st.from_regex(r"[+-]?[0-9]{0,20}(\.[0-9]{0,9})?", fullmatch=True),
                "currency": st.sampled_from(["USD", "EUR", "XXX", "ABC", "US"]),
                "unit": st.sampled_from(["mt", "bbl", "EUR", "1mt", ""]),
                "price_type": st.sampled_from(["cash_settlement", "official", "forward", "reference", "spot"]),
            }
        )
    )
    def test_what_it_vouches_for_pydantic_accepts_as_the_same_row(self, record: dict[str, str]) -> None:
        fast = FastPriceRows()(record)
        if fast is not None:
            assert fast == pydantic_row(record, DateWindow())
            assert fast.model_dump() == PriceRow.model_validate(record).model_dump()
