"""Identifiers are plain (issue 21, point 4): look-alike refs, symbols and units are refused
with one reason per row, the good rows of the file kept; text fields refuse bidi and
zero-width controls; a price per a unit other than its symbol's configured one is refused."""

from __future__ import annotations

import re
from datetime import date

import pytest
from pydantic import BaseModel

from core.contracts import parse_contract_csv
from core.identifiers import LOGIN_PATTERN, REF_PATTERN, UNIT_PATTERN, PlainText
from core.prices import PRICE_HEADER, parse_price_csv
from core.sources import keep_known_symbols
from tests.builders import contract, contracts_csv

TODAY = date(2026, 11, 20)

LOOK_ALIKES = [
    ("HC-\u041a1", "contract_ref"),  # Cyrillic К
    ("HC-\u200bK1", "contract_ref"),  # a zero-width space
    ("HC-\u202eK1", "contract_ref"),  # a right-to-left override
    ("HC-\uff2b1", "contract_ref"),  # a fullwidth Ｋ
    ("HC K1", "contract_ref"),  # a space
    ("-HC-K1", "contract_ref"),  # a sign first
]


@pytest.mark.parametrize(("ref", "field"), LOOK_ALIKES)
def test_a_look_alike_contract_ref_is_refused_and_the_plain_one_kept(ref: str, field: str) -> None:
    report = parse_contract_csv(contracts_csv(contract("HC-K1"), contract(ref)), "c.csv")
    assert [row.contract_ref for _, row in report.rows] == ["HC-K1"]
    assert [(e.line, e.reason.split(":")[0]) for e in report.errors] == [(3, field)]


def test_a_bidi_control_is_named_in_its_reason() -> None:
    report = parse_contract_csv(contracts_csv(contract("HC-\u202eK1")), "c.csv")
    assert [e.reason for e in report.errors] == ["contract_ref: control character U+202E refused"]


@pytest.mark.parametrize("unit", ["m\u0442", "\uff4d\uff54", "m\u200bt", "m t", "1mt", ""])
def test_a_look_alike_unit_is_refused_in_contracts_and_prices(unit: str) -> None:
    contracts = parse_contract_csv(contracts_csv(contract("HC-1"), contract("HC-2", unit=unit)), "c.csv")
    assert ([r.contract_ref for _, r in contracts.rows], [e.line for e in contracts.errors]) == (["HC-1"], [3])
    text = ",".join(PRICE_HEADER) + "\n"
    text += f"LME-AL,2026-11-19,2563.50,USD,{unit},cash_settlement\nLME-CU,2026-11-19,9876.50,USD,mt,cash_settlement\n"
    prices = parse_price_csv(text, "p.csv", TODAY)
    assert ([r.symbol for _, r in prices.rows], [e.line for e in prices.errors]) == (["LME-CU"], [2])


@pytest.mark.parametrize("symbol", ["LME-\u0410L", "LME-AL\u200b", "\uff2cME-AL", "lme-al"])
def test_a_look_alike_symbol_is_refused(symbol: str) -> None:
    text = ",".join(PRICE_HEADER) + f"\n{symbol},2026-11-19,2563.50,USD,mt,cash_settlement\n"
    assert [e.reason.split(":")[0] for e in parse_price_csv(text, "p.csv", TODAY).errors] == ["symbol"]


def test_a_unit_other_than_the_configured_one_is_refused_the_rest_kept() -> None:
    text = ",".join(PRICE_HEADER) + "\n"
    text += "LME-AL,2026-11-19,2563.50,USD,t,cash_settlement\n"  # a plain ASCII unit, not LME's
    text += "LME-CU,2026-11-19,9876.50,USD,mt,cash_settlement\n"
    text += "ICE-B,2026-11-19,80.10,USD,bbl,cash_settlement\n"  # a pattern without a unit: any
    report = keep_known_symbols(parse_price_csv(text, "p.csv", TODAY), ["LME-*=mt", "ICE-*"])
    assert [r.symbol for _, r in report.rows] == ["LME-CU", "ICE-B"]
    assert [(e.line, e.reason) for e in report.errors] == [(2, "unit: t is not the configured unit of LME-AL (mt)")]


class Note(BaseModel):
    text: PlainText


def test_free_text_takes_any_script_but_no_control() -> None:
    assert Note(text="Кобальт 現金").text == "Кобальт 現金"
    for control in ("\u202e", "\u200b", "\u2066", "\ufeff", "\x00", "\u061c"):
        with pytest.raises(ValueError, match="control character"):
            Note(text=f"a{control}b")


@pytest.mark.parametrize(
    ("pattern", "good", "bad"),
    [
        (REF_PATTERN, ["HC-AL-001", "FXF/2024/1", "a" * 64], ["a" * 65, "", "HC\u00a01", "HC-1\n"]),
        (UNIT_PATTERN, ["mt", "MMBtu", "EUR", "m3"], ["m\u0442", "3m", "a" * 17]),
        (LOGIN_PATTERN, ["5001", "1" * 20], ["0123", "-5", "\uff15001", "1" * 21]),
    ],
)
def test_the_patterns_take_plain_ascii_only(pattern: str, good: list[str], bad: list[str]) -> None:
    compiled = re.compile(pattern)
    assert [bool(compiled.fullmatch(v)) for v in good] == [True] * len(good)
    assert [bool(compiled.fullmatch(v)) for v in bad] == [False] * len(bad)
