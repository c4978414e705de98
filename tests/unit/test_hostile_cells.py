"""Hostile cells in core's row checks: a file's dates are ISO text within a window (given
by the caller), and no text of a hedge-accounting entry holds a control character."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from core.hedging.documents import control_problem
from core.hedging.items import parse_hedged_items
from core.prices import parse_price_csv
from core.rows import DateWindow
from tests.builders import prices_csv
from tests.hedging_builders import items_json, receivable

TODAY = date(2026, 11, 20)
NARROW = DateWindow(date(2020, 1, 1), date(2030, 12, 31))


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("2026-11-19", None),
        ("2020-01-01", None),  # the window's ends are inside it
        ("2019-12-31", "price_date: 2019-12-31 is outside the date window 2020-01-01..2030-12-31"),
        ("1763510400", "price_date: not a date YYYY-MM-DD: '1763510400'"),  # a Unix time pydantic read as 2025-11-19
        ("2026-11-19T00:00:00Z", "price_date: not a date YYYY-MM-DD: '2026-11-19T00:00:00Z'"),
        ("２０２６-11-19", "price_date: not a date YYYY-MM-DD: '２０２６-11-19'"),
        ("2026-1-9", "price_date: not a date YYYY-MM-DD: '2026-1-9'"),
        ("9" * 60, "price_date: not a date YYYY-MM-DD: '" + "9" * 36 + "..."),  # shown cut short
    ],
)
def test_a_price_date_is_iso_text_within_the_window(cell: str, reason: str | None) -> None:
    report = parse_price_csv(prices_csv(("LME-AL", cell, "2510")), "p.csv", TODAY, NARROW)
    assert [e.reason for e in report.errors] == ([reason] if reason else [])
    assert len(report.rows) == (0 if reason else 1)


def test_the_default_window_is_1990_to_2199() -> None:
    report = parse_price_csv(prices_csv(("LME-AL", "1989-12-31", "1"), ("LME-CU", "1990-01-01", "1")), "p.csv", TODAY)
    assert [e.reason for e in report.errors] == [
        "price_date: 1989-12-31 is outside the date window 1990-01-01..2199-12-31"
    ]


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"a": "text", "b": ["x", {"c": "line one\nline two\ttabbed\r\n"}]}, None),  # free text breaks lines
        ({"a": "nul\x00"}, "a: control character U+0000 refused"),
        ({"a": {"b": ["ok", "bell\x07"]}}, "a.b.1: control character U+0007 refused"),
        ({"a": "esc\x1b[31m"}, "a: control character U+001B refused"),
        ({"a": "c1\x9b"}, "a: control character U+009B refused"),
        ({"k\x00": 1}, "k?: control character U+0000 refused"),  # a key too, printed without it
        ("top\x7f", "entry: control character U+007F refused"),
        ({"n": 5, "d": None, "b": True}, None),
    ],
)
def test_control_characters_in_an_entry_are_named_by_their_path(entry: Any, problem: str | None) -> None:
    assert control_problem(entry) == problem


def test_a_hedged_item_with_a_nul_is_refused_and_the_window_applies() -> None:
    rows, errors = parse_hedged_items(
        items_json(
            receivable("R1", description="inv\x00oice"), receivable("R2", exposure_date="2031-01-01"), receivable("R3")
        ),
        "i.json",
        NARROW,
    )
    assert [r.item_ref for r in rows] == ["R3"]
    assert errors == [
        "i.json: hedged_items[0]: description: control character U+0000 refused",
        "i.json: hedged_items[1]: exposure_date: 2031-01-01 is outside the date window 2020-01-01..2030-12-31",
    ]


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("7", None),
        ("+7", None),
        ("1_000", "magic: not a plain integer: '1_000'"),  # pydantic alone reads 1000
        ("７", "magic: not a plain integer: '７'"),
        ("1e3", "magic: not a plain integer: '1e3'"),
        ("7.0", "magic: not a plain integer: '7.0'"),
    ],
)
def test_an_integer_cell_is_plain_digits(cell: str, reason: str | None) -> None:
    from core.mt5.expected import EXPECTED_HEADER, parse_expected_csv

    report = parse_expected_csv(",".join(EXPECTED_HEADER) + f"\n5001,S1,EURUSD,buy,0.1,1.1,{cell}\n", "e.csv")
    assert [e.reason for e in report.errors] == ([reason] if reason else [])


@pytest.mark.parametrize(("version", "refused"), [(1, False), ("1", False), (True, True), ("1_0", True), (1.0, True)])
def test_a_designation_version_is_an_integer_not_a_bool_or_a_float(version: Any, refused: bool) -> None:
    from core.hedging.dossier import parse_designations
    from tests.hedging_builders import designation, designations_json

    rows, errors = parse_designations(
        designations_json(designation("D1", "C1", "I1", version=version, regression_window=None)), "d.json"
    )
    assert (len(errors), len(rows)) == ((1, 0) if refused else (0, 1)), errors
