"""The vendor price CSV: good rows kept, bad rows reported row by row, other files refused."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core.errors import NotAFileOfThisKind
from core.prices import PRICE_HEADER, PriceRow, parse_price_csv
from core.values import Confidence, PriceType, RowError

D = Decimal
TODAY = date(2026, 11, 20)
FILE = "drop/prices_2026-11-19.csv"
HEADER = ",".join(PRICE_HEADER)  # symbol,price_date,price,currency,unit,price_type


def csv_text(*lines: str, header: str = HEADER) -> str:
    return "\n".join([header, *lines]) + "\n"


def parse(*lines: str) -> tuple[list[tuple[int, PriceRow]], list[RowError]]:
    report = parse_price_csv(csv_text(*lines), FILE, TODAY)
    return report.rows, report.errors


class TestGoodRows:
    def test_rows_are_kept_with_their_line_numbers(self) -> None:
        rows, errors = parse(
            "LME-AL,2026-11-19,2563.50,USD,mt,cash_settlement",  # line 2
            "LME-CU,2026-11-19,9125.250000,USD,mt,official",  # line 3
            "EURUSD,2026-11-20,1.0523,USD,EUR,reference",  # line 4: today is not the future
        )

        assert errors == []
        assert rows == [
            (
                2,
                PriceRow(
                    symbol="LME-AL",
                    price_date=date(2026, 11, 19),
                    price=D("2563.50"),
                    currency="USD",
                    unit="mt",
                    price_type=PriceType.CASH_SETTLEMENT,
                ),
            ),
            (
                3,
                PriceRow(
                    symbol="LME-CU",
                    price_date=date(2026, 11, 19),
                    price=D("9125.25"),
                    currency="USD",
                    unit="mt",
                    price_type=PriceType.OFFICIAL,
                ),
            ),
            (
                4,
                PriceRow(
                    symbol="EURUSD",
                    price_date=date(2026, 11, 20),
                    price=D("1.0523"),
                    currency="USD",
                    unit="EUR",
                    price_type=PriceType.REFERENCE,
                ),
            ),
        ]

    @pytest.mark.parametrize(
        ("price_type", "confidence"),
        [
            ("cash_settlement", Confidence.FIRM),
            ("official", Confidence.FIRM),
            ("forward", Confidence.INDICATIVE),
            ("reference", Confidence.REFERENCE),
        ],
    )
    def test_price_type_gives_the_confidence(self, price_type: str, confidence: Confidence) -> None:
        rows, _ = parse(f"LME-AL,2026-11-19,2563.50,USD,mt,{price_type}")

        assert rows[0][1].confidence is confidence

    def test_price_is_quantized_to_six_places_half_even(self) -> None:
        rows, _ = parse(
            "LME-AL,2026-11-19,2563.1234565,USD,mt,official",  # 7th place 5 after an even 6 -> stays
            "LME-CU,2026-11-19,9125.1234575,USD,mt,official",  # 7th place 5 after an odd 7 -> up
        )

        assert [row.quantized_price for _, row in rows] == [D("2563.123456"), D("9125.123458")]

    def test_columns_are_found_by_name_whatever_their_order_and_extra_columns_are_ignored(self) -> None:
        text = csv_text(
            "official,mt,USD,2563.50,2026-11-19,LME-AL,vendor note",
            header="price_type,unit,currency,price,price_date,symbol,comment",
        )

        report = parse_price_csv(text, FILE, TODAY)

        assert report.errors == []
        assert [(line, row.symbol, row.price) for line, row in report.rows] == [(2, "LME-AL", D("2563.50"))]

    def test_cells_and_header_names_are_stripped(self) -> None:
        text = csv_text(
            " LME-AL , 2026-11-19 , 2563.50 , USD , mt , official ",
            header=" symbol , price_date , price , currency , unit , price_type ",
        )

        report = parse_price_csv(text, FILE, TODAY)

        assert [(row.symbol, row.price) for _, row in report.rows] == [("LME-AL", D("2563.50"))]

    def test_blank_lines_are_skipped_and_do_not_shift_line_numbers(self) -> None:
        rows, errors = parse(
            "LME-AL,2026-11-19,2563.50,USD,mt,official",  # line 2
            "",  # line 3
            ",,,,,",  # line 4: empty cells only
            "LME-CU,2026-11-19,0,USD,mt,official",  # line 5
            "LME-ZN,2026-11-19,3010.00,USD,mt,official",  # line 6
        )

        assert [line for line, _ in rows] == [2, 6]
        assert [(e.file, e.line) for e in errors] == [(FILE, 5)]

    def test_crlf_line_endings(self) -> None:
        text = HEADER + "\r\n" + "LME-AL,2026-11-19,2563.50,USD,mt,official\r\n"

        report = parse_price_csv(text, FILE, TODAY)

        assert [(line, row.currency) for line, row in report.rows] == [(2, "USD")]

    def test_a_header_alone_gives_an_empty_report(self) -> None:
        report = parse_price_csv(HEADER + "\n", FILE, TODAY)

        assert (report.file, report.rows, report.errors) == (FILE, [], [])


GOOD = {
    "symbol": "LME-AL",
    "price_date": "2026-11-19",
    "price": "2563.50",
    "currency": "USD",
    "unit": "mt",
    "price_type": "official",
}


def row_with(**cells: str) -> str:
    values = {**GOOD, **cells}
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow([values[h] for h in PRICE_HEADER])
    return out.getvalue()


class TestBadRows:
    @pytest.mark.parametrize(
        ("line", "reason_starts"),
        [
            pytest.param(row_with(price="abc"), "price:", id="price-not-a-number"),
            pytest.param(row_with(price="1,234.50"), "price:", id="price-thousands-separator"),
            pytest.param(row_with(price=""), "price:", id="price-empty"),
            pytest.param(row_with(price="1_234.50"), "price:", id="price-underscore-separator"),
            pytest.param(row_with(price="2.5e3"), "price:", id="price-exponent"),
            pytest.param(row_with(price="0"), "price:", id="price-zero"),
            pytest.param(row_with(price="0.000000"), "price:", id="price-zero-with-places"),
            pytest.param(row_with(price="-2563.50"), "price:", id="price-negative"),
            pytest.param(row_with(price="NaN"), "price:", id="price-nan"),
            pytest.param(row_with(price="Infinity"), "price:", id="price-infinite"),
            # stored as NUMERIC(28, 6): a price that is zero at six places would be stored as 0
            pytest.param(row_with(price="0.0000004"), "price:", id="price-zero-at-six-places"),
            # stored as NUMERIC(28, 6): 23 integer digits do not fit, nor quantize in a 28-digit context
            pytest.param(row_with(price="1E+30"), "price:", id="price-too-large-exponent"),
            pytest.param(row_with(price="100000000000000000000000"), "price:", id="price-too-large-digits"),
            pytest.param(row_with(price_date="2026-13-01"), "price_date:", id="date-no-such-month"),
            pytest.param(row_with(price_date="19/11/2026"), "price_date:", id="date-day-first"),
            pytest.param(row_with(price_date="yesterday"), "price_date:", id="date-words"),
            pytest.param(row_with(price_date=""), "price_date:", id="date-empty"),
            pytest.param(
                row_with(price_date="2026-11-21"), "price_date: 2026-11-21 is in the future", id="date-tomorrow"
            ),
            pytest.param(
                row_with(price_date="2027-01-01"), "price_date: 2027-01-01 is in the future", id="date-next-year"
            ),
            pytest.param(row_with(price_type="settlement"), "price_type:", id="unknown-price-type"),
            pytest.param(row_with(price_type="OFFICIAL"), "price_type:", id="price-type-uppercase"),
            pytest.param(row_with(currency="usd"), "currency:", id="currency-lowercase"),
            pytest.param(row_with(currency="US"), "currency:", id="currency-two-letters"),
            pytest.param(row_with(symbol="lme-al"), "symbol:", id="symbol-lowercase"),
            pytest.param(row_with(symbol=""), "symbol:", id="symbol-empty"),
            pytest.param(row_with(unit=""), "unit:", id="unit-empty"),
            pytest.param("LME-AL,2026-11-19,2563.50,USD,mt", "expected 6 fields, found 5", id="too-few-fields"),
            pytest.param(
                "LME-AL,2026-11-19,1,234.50,USD,mt,official",
                "expected 6 fields, found 7",
                id="unquoted-thousands-separator-too-many-fields",
            ),
        ],
    )
    def test_bad_row_is_reported_with_file_line_and_field(self, line: str, reason_starts: str) -> None:
        rows, errors = parse(
            "LME-CU,2026-11-19,9125.25,USD,mt,official",  # line 2: good
            line,  # line 3: bad
            "LME-ZN,2026-11-19,3010.00,USD,mt,official",  # line 4: good
        )

        assert [line for line, _ in rows] == [2, 4]
        assert [(e.file, e.line) for e in errors] == [(FILE, 3)]
        assert errors[0].reason.startswith(reason_starts), errors[0].reason

    def test_the_error_reads_file_line_reason(self) -> None:
        _, errors = parse(row_with(price="0"))

        assert str(errors[0]).startswith(f"{FILE}:2: price:")

    def test_every_bad_field_of_a_row_is_named(self) -> None:
        _, errors = parse(row_with(price="abc", currency="usd", price_type="settlement"))

        assert [e.line for e in errors] == [2]
        assert all(name in errors[0].reason for name in ("price:", "currency:", "price_type:"))


class TestDuplicates:
    def test_same_symbol_and_date_with_different_prices_rejects_both_lines(self) -> None:
        rows, errors = parse(
            "LME-AL,2026-11-19,2563.50,USD,mt,official",  # line 2
            "LME-CU,2026-11-19,9125.25,USD,mt,official",  # line 3
            "LME-AL,2026-11-19,2570.00,USD,mt,official",  # line 4
        )

        assert [(line, row.symbol) for line, row in rows] == [(3, "LME-CU")]
        assert [(e.file, e.line) for e in errors] == [(FILE, 2), (FILE, 4)]
        assert all(e.reason.startswith("duplicate LME-AL 2026-11-19 with a different price") for e in errors)
        assert "2563.50" in errors[0].reason and "2570.00" in errors[1].reason

    def test_three_rows_two_agreeing_all_rejected(self) -> None:
        rows, errors = parse(
            "LME-AL,2026-11-19,2563.50,USD,mt,official",
            "LME-AL,2026-11-19,2563.50,USD,mt,official",
            "LME-AL,2026-11-19,2570.00,USD,mt,official",
        )

        assert rows == []
        assert [e.line for e in errors] == [2, 3, 4]

    @pytest.mark.parametrize(
        "repeat",
        [
            pytest.param("LME-AL,2026-11-19,2563.50,USD,mt,official", id="exact"),
            pytest.param("LME-AL,2026-11-19,2563.500000,USD,mt,official", id="same-value-other-exponent"),
        ],
    )
    def test_a_repeat_of_the_same_price_is_kept_once(self, repeat: str) -> None:
        rows, errors = parse(
            "LME-AL,2026-11-19,2563.50,USD,mt,official",  # line 2
            "LME-CU,2026-11-19,9125.25,USD,mt,official",  # line 3
            repeat,  # line 4
        )

        assert errors == []
        assert [(line, row.symbol) for line, row in rows] == [(2, "LME-AL"), (3, "LME-CU")]

    def test_same_symbol_on_other_dates_is_no_duplicate(self) -> None:
        rows, errors = parse(
            "LME-AL,2026-11-18,2550.00,USD,mt,official",
            "LME-AL,2026-11-19,2563.50,USD,mt,official",
        )

        assert errors == []
        assert [line for line, _ in rows] == [2, 3]

    def test_errors_are_in_line_order(self) -> None:
        _, errors = parse(
            "LME-AL,2026-11-19,2563.50,USD,mt,official",  # 2: duplicate
            "LME-CU,2026-11-19,0,USD,mt,official",  # 3: zero
            "LME-AL,2026-11-19,2570.00,USD,mt,official",  # 4: duplicate
        )

        assert [e.line for e in errors] == [2, 3, 4]


class TestNotAPriceFile:
    @pytest.mark.parametrize(
        ("header", "missing"),
        [
            pytest.param(
                "sym,date,px,ccy,unit,type", "symbol, price_date, price, currency, price_type", id="other-names"
            ),
            pytest.param("symbol,price_date,price,currency,unit", "price_type", id="one-column-missing"),
            pytest.param(
                "contract_ref,instrument,underlying,side,quantity,unit,entry_price,currency,"
                "trade_date,maturity_date,status",
                "symbol, price_date, price, price_type",
                id="a-contracts-file",
            ),
            pytest.param(
                "LME-AL,2026-11-19,2563.50,USD,mt,official",
                "symbol, price_date, price, currency, unit, price_type",
                id="no-header-line",
            ),
        ],
    )
    def test_a_wrong_header_names_the_missing_columns(self, header: str, missing: str) -> None:
        text = csv_text("LME-AL,2026-11-19,2563.50,USD,mt,official", header=header)

        with pytest.raises(NotAFileOfThisKind) as raised:
            parse_price_csv(text, FILE, TODAY)

        assert FILE in str(raised.value)
        assert f"lacks {missing} (" in str(raised.value)

    @pytest.mark.parametrize("text", ["", "\n\n"], ids=["empty", "blank-lines"])
    def test_an_empty_file_is_refused(self, text: str) -> None:
        with pytest.raises(NotAFileOfThisKind, match="prices"):
            parse_price_csv(text, FILE, TODAY)


# --- properties -----------------------------------------------------------------------------

NO_DATABASE = settings(database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def mostly(*good: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A column's cells: mostly plausible values, one time in eight any text."""
    return st.integers(0, 7).flatmap(lambda n: st.text(max_size=12) if n == 0 else st.one_of(*good))


price_cells = st.tuples(
    mostly(st.sampled_from(["LME-AL", "LME-CU", "EURUSD", "lme-al"])),
    mostly(
        st.dates(min_value=TODAY - timedelta(days=20), max_value=TODAY + timedelta(days=2)).map(date.isoformat),
        st.sampled_from(["2026-13-01", "19/11/2026", ""]),
    ),
    mostly(
        st.decimals(allow_nan=True, allow_infinity=True).map(str),
        st.decimals(min_value=-10_000, max_value=10_000, places=7).map(str),
        st.sampled_from(["0", "-1", "1,234.50", "1E+30", "0.0000001", "abc", ""]),
    ),
    mostly(st.sampled_from(["USD", "USD", "EUR", "usd"])),
    mostly(st.sampled_from(["mt", "bbl", "EUR"])),
    mostly(st.sampled_from([t.value for t in PriceType] + ["settlement"])),
).map(list)
#: Rows of six plausible-or-not cells, and now and then a row of the wrong length.
csv_rows = st.lists(st.one_of(price_cells, st.lists(st.text(max_size=12), min_size=0, max_size=8)), max_size=12)


def write_csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(PRICE_HEADER)
    writer.writerows(rows)
    return out.getvalue()


def check_report_invariants(text: str) -> None:
    try:
        report = parse_price_csv(text, FILE, TODAY)
    except NotAFileOfThisKind:
        return
    kept_lines = [line for line, _ in report.rows]
    assert kept_lines == sorted(set(kept_lines))
    assert not set(kept_lines) & {e.line for e in report.errors}
    assert all(e.file == FILE for e in report.errors)
    for _, row in report.rows:
        assert PriceRow.model_validate(row.model_dump()) == row
        assert row.price > 0
        assert row.quantized_price > 0  # what is stored is the six-place price
        assert row.price_date <= TODAY


#: Prices the search finds only now and then: tried on every run.
EDGE_PRICES = ("1E+30", "100000000000000000000000", "1E-7", "0.0000004", "0.0000005", "0.0000006")


def with_edge_prices(test: Callable[..., None]) -> Callable[..., None]:
    for price in EDGE_PRICES:
        test = example([["LME-AL", "2026-11-19", price, "USD", "mt", "official"]])(test)
    return test


class TestProperties:
    @NO_DATABASE
    @given(st.text())
    def test_arbitrary_text_never_raises_anything_but_not_a_file(self, text: str) -> None:
        check_report_invariants(text)

    @NO_DATABASE
    @given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
    def test_arbitrary_text_under_a_price_header(self, body: str) -> None:
        check_report_invariants(HEADER + "\n" + body)

    @NO_DATABASE
    @given(csv_rows)
    @with_edge_prices
    def test_csv_rows_never_raise_and_kept_rows_are_valid(self, rows: list[list[str]]) -> None:
        check_report_invariants(write_csv(rows))

    @NO_DATABASE
    @given(csv_rows)
    @with_edge_prices
    def test_csv_rows_joined_without_quoting(self, rows: list[list[str]]) -> None:
        text = "\n".join([HEADER, *(",".join(row) for row in rows)])

        check_report_invariants(text)


class TestTrustedRows:
    def test_a_trusted_row_equals_the_validated_one(self) -> None:
        from datetime import datetime

        from core.values import PriceType

        values = {
            "symbol": "EURUSD",
            "price_date": date(2024, 12, 31),
            "price": Decimal("1.038900"),
            "currency": "USD",
            "unit": "EUR",
            "price_type": PriceType.REFERENCE,
            "published_at": datetime(2024, 12, 31, 15, tzinfo=UTC),
        }
        trusted = PriceRow.trusted(**values)
        assert trusted == PriceRow.model_validate(values)
        assert (trusted.confidence.value, trusted.quantized_price) == ("REFERENCE", Decimal("1.038900"))
        assert trusted.model_dump() == PriceRow.model_validate(values).model_dump()
