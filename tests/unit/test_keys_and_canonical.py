"""Idempotency keys and canonical payloads: one spelling for every business value."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from core import keys
from core.canonical import canonical, canonical_json, normalise_decimal, payload_sha256
from core.values import ExceptionReason, ObjectType, PriceType, Side

D = Decimal


class TestKeys:
    @pytest.mark.parametrize(
        ("key", "expected"),
        [
            (
                keys.mtm_snapshot_key(ObjectType.HEDGE_CONTRACT, 42, date(2026, 11, 20)),
                "MTM:hedge_contract:42:2026-11-20",
            ),
            (keys.mtm_snapshot_key(ObjectType.HEDGE_CONTRACT, 7, date(2027, 1, 5)), "MTM:hedge_contract:7:2027-01-05"),
            (
                keys.mtm_exception_key(
                    ObjectType.HEDGE_CONTRACT, 42, date(2026, 11, 20), ExceptionReason.PRICE_UNAVAILABLE
                ),
                "MTMX:hedge_contract:42:2026-11-20:price_unavailable",
            ),
            (
                keys.mtm_exception_key(
                    ObjectType.HEDGE_CONTRACT, 42, date(2026, 11, 20), ExceptionReason.CURRENCY_MISMATCH
                ),
                "MTMX:hedge_contract:42:2026-11-20:currency_mismatch",
            ),
            (keys.price_key("LME-AL", date(2026, 11, 19), "vendor_csv"), "PRICE:LME-AL:2026-11-19:vendor_csv"),
            (keys.price_key("EURUSD", date(2026, 3, 2), "ecb"), "PRICE:EURUSD:2026-03-02:ecb"),
            (keys.run_lock_key("nightly", date(2026, 11, 20)), "hedgeops:lock:nightly:2026-11-20"),
        ],
    )
    def test_keys_are_the_readable_forms(self, key: str, expected: str) -> None:
        assert key == expected

    def test_same_inputs_same_key(self) -> None:
        assert keys.price_key("LME-AL", date(2026, 11, 19), "vendor_csv") == keys.price_key(
            "LME-AL", date(2026, 11, 19), "vendor_csv"
        )

    def test_each_part_of_a_key_tells_keys_apart(self) -> None:
        day, other_day = date(2026, 11, 19), date(2026, 11, 20)
        built = [
            keys.price_key("LME-AL", day, "vendor_csv"),
            keys.price_key("LME-CU", day, "vendor_csv"),
            keys.price_key("LME-AL", other_day, "vendor_csv"),
            keys.price_key("LME-AL", day, "http_json"),
            keys.mtm_snapshot_key(ObjectType.HEDGE_CONTRACT, 42, day),
            keys.mtm_snapshot_key(ObjectType.HEDGE_CONTRACT, 43, day),
            keys.mtm_snapshot_key(ObjectType.HEDGE_CONTRACT, 42, other_day),
            keys.mtm_exception_key(ObjectType.HEDGE_CONTRACT, 42, day, ExceptionReason.PRICE_UNAVAILABLE),
            keys.mtm_exception_key(ObjectType.HEDGE_CONTRACT, 42, day, ExceptionReason.CURRENCY_MISMATCH),
        ]

        assert len(set(built)) == len(built)


class TestNormaliseDecimal:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("1.500", "1.5"),
            ("1.5", "1.5"),
            ("0.00", "0"),
            ("0", "0"),
            ("-0.0", "0"),
            ("0E+3", "0"),
            ("2563.500000", "2563.5"),
            ("100", "100"),  # normalize() gives 1E+2: still written out
            ("1E+3", "1000"),
            ("1.2E+10", "12000000000"),
            ("60779320.00", "60779320"),
            ("0.000001", "0.000001"),
            ("1E-7", "0.0000001"),
            ("-12.340", "-12.34"),
            ("-6062.50", "-6062.5"),
        ],
    )
    def test_one_spelling_without_exponent_or_trailing_zeros(self, value: str, expected: str) -> None:
        assert normalise_decimal(D(value)) == expected


class TestCanonical:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            pytest.param(None, None, id="none"),
            pytest.param(True, True, id="bool-stays-bool"),
            pytest.param(3, 3, id="int"),
            pytest.param("USD", "USD", id="str"),
            pytest.param(D("1.500"), "1.5", id="decimal"),
            pytest.param(Side.SELL, "sell", id="enum"),
            pytest.param(PriceType.CASH_SETTLEMENT, "cash_settlement", id="enum-2"),
            pytest.param(date(2026, 11, 19), "2026-11-19", id="date"),
            pytest.param(datetime(2026, 11, 19, 18, 30, tzinfo=UTC), "2026-11-19T18:30:00+00:00", id="datetime"),
            pytest.param((D("1.0"), date(2026, 1, 2)), ["1", "2026-01-02"], id="tuple-to-list"),
            pytest.param({"p": [D("2.50"), {"q": D("0.00")}]}, {"p": ["2.5", {"q": "0"}]}, id="nested"),
        ],
    )
    def test_values_become_json_values(self, value: Any, expected: Any) -> None:
        assert canonical(value) == expected

    @pytest.mark.parametrize(
        "value",
        [
            pytest.param(1.5, id="float"),
            pytest.param({"price": 2563.5}, id="float-in-mapping"),
            pytest.param({"prices": [D("1"), 0.1]}, id="float-in-list"),
            pytest.param(float("nan"), id="nan"),
        ],
    )
    def test_floats_are_refused(self, value: Any) -> None:
        with pytest.raises(TypeError, match="float"):
            canonical(value)

    @pytest.mark.parametrize("value", [object(), {1, 2}, b"bytes"], ids=["object", "set", "bytes"])
    def test_other_types_are_refused(self, value: Any) -> None:
        with pytest.raises(TypeError):
            canonical(value)


class TestCanonicalJson:
    def test_keys_are_sorted_at_every_level_without_spaces(self) -> None:
        payload = {"b": 1, "a": {"z": D("1.0"), "m": [{"y": 2, "x": 1}]}}

        assert canonical_json(payload) == '{"a":{"m":[{"x":1,"y":2}],"z":"1"},"b":1}'

    def test_decimals_are_normalised(self) -> None:
        payload = {"price": D("2563.500000"), "mtm": D("0.00"), "notional": D("1E+3")}

        assert canonical_json(payload) == '{"mtm":"0","notional":"1000","price":"2563.5"}'

    def test_floats_are_refused(self) -> None:
        with pytest.raises(TypeError):
            canonical_json({"price": 2563.5})


class TestPayloadHash:
    def test_is_the_sha256_of_the_canonical_json(self) -> None:
        payload = {"b": [date(2026, 11, 19), True, None, 3], "a": D("1.50")}
        # canonical JSON: {"a":"1.5","b":["2026-11-19",true,null,3]}
        expected = hashlib.sha256(b'{"a":"1.5","b":["2026-11-19",true,null,3]}').hexdigest()

        assert payload_sha256(payload) == expected
        # pinned: a change of spelling would silently turn every stored payload into a conflict
        assert expected == "407064a6942a83dad768bcd41dd3e6dff4678895a05db27b722d6201bb4a384e"

    @pytest.mark.parametrize(
        ("one", "other"),
        [
            pytest.param({"a": 1, "b": 2}, {"b": 2, "a": 1}, id="key-order"),
            pytest.param({"p": D("2563.5")}, {"p": D("2563.500000")}, id="decimal-exponent"),
            pytest.param({"p": D("1E+3")}, {"p": D("1000.00")}, id="decimal-exponent-positive"),
            pytest.param({"m": D("0.00")}, {"m": D("-0")}, id="zero"),
            pytest.param({"s": Side.BUY}, {"s": "buy"}, id="enum-and-its-value"),
        ],
    )
    def test_same_business_values_same_hash(self, one: dict[str, Any], other: dict[str, Any]) -> None:
        assert payload_sha256(one) == payload_sha256(other)

    @pytest.mark.parametrize(
        ("one", "other"),
        [
            pytest.param({"p": D("2563.5")}, {"p": D("2563.51")}, id="price"),
            pytest.param({"p": D("1")}, {"p": D("-1")}, id="sign"),
            pytest.param({"d": date(2026, 11, 19)}, {"d": date(2026, 11, 20)}, id="date"),
            pytest.param({"x": True}, {"x": 1}, id="bool-is-not-int"),
            pytest.param({"a": 1}, {"b": 1}, id="key-name"),
            pytest.param({"a": 1}, {"a": 1, "b": None}, id="extra-key"),
        ],
    )
    def test_different_business_values_different_hash(self, one: dict[str, Any], other: dict[str, Any]) -> None:
        assert payload_sha256(one) != payload_sha256(other)

    def test_stable_across_calls(self) -> None:
        payload = {"symbol": "LME-AL", "price": D("2563.50"), "price_date": date(2026, 11, 19)}

        assert len({payload_sha256(dict(payload)) for _ in range(5)}) == 1
