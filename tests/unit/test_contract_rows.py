"""The contracts CSV, and which stored fields a reload changes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from core.contracts import (
    CONTRACT_HEADER,
    MUTABLE_FIELDS,
    ContractRow,
    changed_fields,
    fixing_source_problem,
    parse_contract_csv,
    survey_contracts,
)
from core.errors import NotAFileOfThisKind
from core.prices import PRICE_HEADER
from core.values import ContractStatus, Instrument, RowError, Side

D = Decimal
FILE = "contracts.csv"
GOOD = {
    "contract_ref": "HC-1",
    "instrument": "commodity_forward",
    "underlying": "LME-AL",
    "side": "sell",
    "quantity": "125",
    "unit": "mt",
    "entry_price": "2612.00",
    "currency": "USD",
    "trade_date": "2026-10-01",
    "maturity_date": "2027-03-17",
    "status": "active",
}


def row_with(**cells: str) -> str:
    values = {**GOOD, **cells}
    return ",".join(values[h] for h in CONTRACT_HEADER)


def parse(*lines: str) -> tuple[list[tuple[int, ContractRow]], list[RowError]]:
    report = parse_contract_csv("\n".join([",".join(CONTRACT_HEADER), *lines]) + "\n", FILE)
    return report.rows, report.errors


class TestGoodRows:
    def test_rows_are_kept_with_their_line_numbers_and_typed_values(self) -> None:
        rows, errors = parse(
            row_with(contract_ref="HC-1"),  # line 2
            row_with(
                contract_ref="HC-2",
                underlying="LME-CU",
                side="buy",
                quantity="10.5",
                entry_price="9000",
                status="settled",
            ),  # line 3
        )

        assert errors == []
        assert rows == [
            (
                2,
                ContractRow(
                    contract_ref="HC-1",
                    instrument=Instrument.COMMODITY_FORWARD,
                    underlying="LME-AL",
                    side=Side.SELL,
                    quantity=D("125"),
                    unit="mt",
                    entry_price=D("2612.00"),
                    currency="USD",
                    trade_date=date(2026, 10, 1),
                    maturity_date=date(2027, 3, 17),
                    status=ContractStatus.ACTIVE,
                ),
            ),
            (
                3,
                ContractRow(
                    contract_ref="HC-2",
                    instrument=Instrument.COMMODITY_FORWARD,
                    underlying="LME-CU",
                    side=Side.BUY,
                    quantity=D("10.5"),
                    unit="mt",
                    entry_price=D("9000"),
                    currency="USD",
                    trade_date=date(2026, 10, 1),
                    maturity_date=date(2027, 3, 17),
                    status=ContractStatus.SETTLED,
                ),
            ),
        ]

    def test_maturity_on_the_trade_date_is_allowed(self) -> None:
        rows, errors = parse(row_with(trade_date="2026-11-20", maturity_date="2026-11-20"))

        assert (len(rows), errors) == (1, [])


class TestBadRows:
    @pytest.mark.parametrize(
        ("line", "reason_starts"),
        [
            pytest.param(row_with(side="long"), "side:", id="bad-side"),
            pytest.param(row_with(side="BUY"), "side:", id="side-uppercase"),
            pytest.param(row_with(status="open"), "status:", id="bad-status"),
            pytest.param(row_with(quantity="0"), "quantity:", id="quantity-zero"),
            pytest.param(row_with(quantity="-10"), "quantity:", id="quantity-negative"),
            pytest.param(row_with(quantity="ten"), "quantity:", id="quantity-not-a-number"),
            pytest.param(row_with(entry_price="0"), "entry_price:", id="entry-price-zero"),
            pytest.param(
                row_with(trade_date="2026-11-20", maturity_date="2026-11-19"),
                "maturity_date: before trade_date",
                id="maturity-before-trade-date",
            ),
            pytest.param(row_with(maturity_date="2027-02-30"), "maturity_date:", id="maturity-no-such-day"),
            pytest.param(row_with(instrument="option"), "instrument:", id="unknown-instrument"),
            pytest.param(row_with(underlying="lme al"), "underlying:", id="bad-underlying"),
            pytest.param(row_with(currency="usd"), "currency:", id="currency-lowercase"),
            pytest.param(row_with(contract_ref=""), "contract_ref:", id="contract-ref-empty"),
            pytest.param(row_with(contract_ref="X" * 65), "contract_ref:", id="contract-ref-too-long"),
            pytest.param(row_with(unit=""), "unit:", id="unit-empty"),
            pytest.param(row_with() + ",extra", "expected 11 fields, found 12", id="too-many-fields"),
        ],
    )
    def test_bad_row_is_reported_with_file_line_and_field(self, line: str, reason_starts: str) -> None:
        rows, errors = parse(
            row_with(contract_ref="HC-1"),  # line 2: good
            line,  # line 3: bad
            row_with(contract_ref="HC-3"),  # line 4: good
        )

        assert [n for n, _ in rows] == [2, 4]
        assert [(e.file, e.line) for e in errors] == [(FILE, 3)]
        assert errors[0].reason.startswith(reason_starts), errors[0].reason

    def test_a_repeated_contract_ref_reports_the_later_line_naming_the_first(self) -> None:
        rows, errors = parse(
            row_with(contract_ref="HC-1"),  # line 2
            row_with(contract_ref="HC-2"),  # line 3
            row_with(contract_ref="HC-1", quantity="999"),  # line 4
            row_with(contract_ref="HC-1"),  # line 5: an exact repeat is an error too
        )

        assert [(n, row.contract_ref, row.quantity) for n, row in rows] == [
            (2, "HC-1", D("125")),
            (3, "HC-2", D("125")),
        ]
        assert errors == [
            RowError(FILE, 4, "contract_ref: HC-1 repeated (first at line 2)"),
            RowError(FILE, 5, "contract_ref: HC-1 repeated (first at line 2)"),
        ]

    def test_errors_come_in_line_order(self) -> None:
        _, errors = parse(
            row_with(contract_ref="HC-1"),  # line 2
            row_with(contract_ref="HC-1"),  # line 3: repeat
            row_with(contract_ref="HC-2", side="long"),  # line 4: bad side
            row_with(contract_ref="HC-1"),  # line 5: repeat
        )

        assert [e.line for e in errors] == [3, 4, 5]


class TestNotAContractsFile:
    def test_a_price_file_is_refused_naming_the_missing_columns(self) -> None:
        text = ",".join(PRICE_HEADER) + "\nLME-AL,2026-11-19,2563.50,USD,mt,official\n"

        with pytest.raises(NotAFileOfThisKind, match="lacks contract_ref, instrument, underlying, side"):
            parse_contract_csv(text, FILE)

    def test_an_empty_file_is_refused(self) -> None:
        with pytest.raises(NotAFileOfThisKind, match="empty"):
            parse_contract_csv("", FILE)


def incoming(**cells: str) -> ContractRow:
    return ContractRow.model_validate({**GOOD, **cells})


def stored(**changes: Any) -> dict[str, object]:
    """A contract as the database gives it back: plain strings, six-place Decimals, an id."""
    fields: dict[str, object] = {
        "id": 17,
        "contract_ref": "HC-1",
        "instrument": "commodity_forward",
        "underlying": "LME-AL",
        "side": "sell",
        "quantity": D("125.000000"),
        "unit": "mt",
        "entry_price": D("2612.000000"),
        "currency": "USD",
        "trade_date": date(2026, 10, 1),
        "maturity_date": date(2027, 3, 17),
        "status": "active",
    }
    fields.update(changes)
    return fields


class TestChangedFields:
    @pytest.mark.parametrize(
        ("before", "expected", "status_only"),
        [
            pytest.param(stored(), [], True, id="unchanged"),
            pytest.param(stored(quantity=D("125")), [], True, id="decimal-other-exponent"),
            pytest.param(stored(quantity=D("1.25E+2")), [], True, id="decimal-exponent-notation"),
            pytest.param(stored(entry_price=D("2612")), [], True, id="price-other-exponent"),
            pytest.param(stored(status="cancelled"), ["status"], True, id="status-only"),
            pytest.param(stored(quantity=D("126")), ["quantity"], False, id="quantity"),
            pytest.param(stored(entry_price=D("2612.01")), ["entry_price"], False, id="entry-price"),
            pytest.param(stored(side="buy"), ["side"], False, id="side"),
            pytest.param(stored(maturity_date=date(2027, 6, 16)), ["maturity_date"], False, id="maturity"),
            pytest.param(
                stored(status="settled", quantity=D("100")),
                ["quantity", "status"],
                False,
                id="status-and-quantity-sorted",
            ),
            pytest.param(
                {k: v for k, v in stored().items() if k != "unit"}, ["unit"], False, id="field-missing-from-stored"
            ),
        ],
    )
    def test_reports_fields_whose_values_differ(
        self, before: dict[str, object], expected: list[str], status_only: bool
    ) -> None:
        changed = changed_fields(before, incoming())

        assert changed == expected
        assert (set(changed) <= MUTABLE_FIELDS) is status_only

    def test_ten_equals_ten_with_six_places(self) -> None:
        assert changed_fields(stored(quantity=D("10")), incoming(quantity="10.000000")) == []
        assert changed_fields(stored(quantity=D("10.000000")), incoming(quantity="10")) == []

    def test_only_status_may_change_on_a_reload(self) -> None:
        assert MUTABLE_FIELDS == frozenset({"status"})


class TestSurvey:
    """survey_contracts: the first pass keeps digests, the second look names repeats."""

    @staticmethod
    def survey(*lines: str, max_errors: int | None = None) -> Any:
        import io

        import core.contracts

        body = "\n".join([",".join(CONTRACT_HEADER), *lines]) + "\n"
        if max_errors is not None:
            old, core.contracts.MAX_ERRORS = core.contracts.MAX_ERRORS, max_errors
        try:
            return survey_contracts(lambda: io.StringIO(body, newline=""), FILE)
        finally:
            if max_errors is not None:
                core.contracts.MAX_ERRORS = old

    def test_a_bad_row_is_no_first_occurrence_of_its_ref(self) -> None:
        survey = self.survey(
            row_with(contract_ref="HC-1"),  # line 2
            row_with(contract_ref="HC-2", trade_date="2027-04-01"),  # line 3: maturity before trade
            row_with(contract_ref="HC-2"),  # line 4: the first good HC-2
            row_with(contract_ref="HC-1"),  # line 5: repeats line 2
        )
        assert (survey.rows, survey.bad) == (3, 2)
        assert [str(e) for e in survey.errors] == [
            f"{FILE}:3: maturity_date: before trade_date",
            f"{FILE}:5: contract_ref: HC-1 repeated (first at line 2)",
        ]

    def test_errors_past_the_limit_are_counted_not_kept(self) -> None:
        survey = self.survey(*(row_with(contract_ref=f"HC-{n}", quantity="-1") for n in range(5)), max_errors=3)
        assert (survey.rows, survey.bad, [e.line for e in survey.errors]) == (0, 5, [2, 3, 4])


def test_the_fixing_sources_named_are_checked_against_the_configured_ones() -> None:
    header = ",".join((*CONTRACT_HEADER, "fixing_source"))
    values = [str(GOOD[name]) for name in CONTRACT_HEADER]
    text = "\n".join([header, ",".join([*values, "lme_check"]), ",".join(["HC-2", *values[1:], "ecb"])]) + "\n"
    survey = survey_contracts(lambda: text.splitlines(keepends=True), FILE)
    assert (survey.bad, survey.fixing_sources) == (0, {"lme_check": 2, "ecb": 3})
    assert fixing_source_problem(survey, FILE, ["lme_check"]) is None
    assert fixing_source_problem(survey, FILE, ["vendor_csv"]) == (
        "contracts.csv:2: fixing_source: lme_check unknown (known: ecb, vendor_csv)"
    )
