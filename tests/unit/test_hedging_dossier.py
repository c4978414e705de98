"""The designations and hedged-items files: dual authorisation, amendments, defaults locked
from the policy, the legs' checks, the prospective test (the FX lifecycle: test_lifecycle.py)."""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from core.canonical import payload_sha256
from core.contracts import parse_contract_csv
from core.errors import NotAFileOfThisKind
from core.hedging.documents import describe_entry, json_entries
from core.hedging.dossier import (
    DesignationRow,
    Dossier,
    HedgeType,
    OciReleaseMethod,
    parse_designations,
    prospective_test,
    resolve,
)
from core.hedging.items import HedgedItem, HedgedItemKind, parse_hedged_items
from core.hedging.methods import Band, MethodParameters
from core.hedging.policy import HedgingPolicy
from core.values import Contract, ContractStatus, Instrument, Side

D = Decimal
DOCS = {
    k: f"{k} text"
    for k in (
        "risk_management_objective",
        "hedging_strategy",
        "hedged_item_description",
        "hedge_instrument_description",
        "economic_relationship",
        "sources_of_ineffectiveness",
    )
}


def designation(**overrides: Any) -> dict[str, Any]:
    return {
        "designation_ref": "HD-1",
        "version": 1,
        "contract_ref": "FXF-1",
        "item_ref": "RCV-1",
        "hedge_type": "cash_flow",
        "designation_date": "2024-01-02",
        "method": "dollar_offset",
        "documentation": DOCS,
        "designated_by": "alice",
        "approver_1": "bob",
        "approver_2": "carol",
        **overrides,
    }


def refusal(entry: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        DesignationRow.model_validate(entry)
    return describe_entry(caught.value)


class TestAuthorisation:
    def test_two_distinct_approvers_neither_the_designator_is_accepted(self) -> None:
        row = DesignationRow.model_validate(designation())
        assert (row.designated_by, row.approver_1, row.approver_2) == ("alice", "bob", "carol")

    def test_the_same_approver_twice_is_refused(self) -> None:
        assert (
            refusal(designation(approver_2="Bob "))
            == "approver_2: Bob is also approver_1: two distinct approvers are required"
        )

    @pytest.mark.parametrize("field", ["approver_1", "approver_2"])
    def test_the_designator_may_not_approve(self, field: str) -> None:
        assert (
            refusal(designation(**{field: "ALICE"})) == f"{field}: ALICE designated this hedge and may not approve it"
        )

    def test_all_three_the_same_names_every_problem(self) -> None:
        message = refusal(designation(approver_1="alice", approver_2="alice"))
        assert message.count(";") == 2

    def test_an_amendment_says_why(self) -> None:
        assert "amendment_reason" in refusal(designation(version=2))
        assert DesignationRow.model_validate(designation(version=2, amendment_reason="ratio")).version == 2

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"documentation": {**DOCS, "economic_relationship": "  "}}, "documentation.economic_relationship"),
            (
                {"documentation": {k: v for k, v in DOCS.items() if k != "hedging_strategy"}},
                "documentation.hedging_strategy",
            ),
            ({"method": "eyeball"}, "method"),
            ({"hedge_type": "speculation"}, "hedge_type"),
            ({"hedge_ratio": "0"}, "hedge_ratio"),
            ({"band": {"min": "1.1", "max": "1.25"}}, "band"),
            ({"min_observations": 2}, "min_observations"),
            ({"surprise": 1}, "surprise"),
        ],
    )
    def test_bad_fields(self, change: dict[str, Any], field: str) -> None:
        assert refusal(designation(**change)).startswith(field)


def instrument(**overrides: Any) -> Contract:
    fields: dict[str, Any] = {
        "id": 1,
        "contract_ref": "FXF-1",
        "instrument": Instrument.FX_FORWARD,
        "underlying": "EURUSD",
        "side": Side.SELL,
        "quantity": D("10000000"),
        "unit": "EUR",
        "entry_price": D("1.0956"),
        "currency": "USD",
        "trade_date": date(2024, 1, 2),
        "maturity_date": date(2024, 12, 31),
        "status": ContractStatus.ACTIVE,
    }
    return Contract(**{**fields, **overrides})


def item(**overrides: Any) -> HedgedItem:
    fields: dict[str, Any] = {
        "id": 5,
        "item_ref": "RCV-1",
        "kind": HedgedItemKind.RECEIVABLE,
        "underlying": "EURUSD",
        "amount": D("10000000"),
        "unit": "EUR",
        "currency": "USD",
        "exposure_date": date(2024, 12, 31),
    }
    return HedgedItem(**{**fields, **overrides})


class TestResolve:
    def test_left_out_parameters_take_the_policy_and_are_locked(self) -> None:
        policy = HedgingPolicy(materiality_floor=D("2500"), regression_window=40)
        dossier = resolve(DesignationRow.model_validate(designation()), policy, instrument(), item())
        assert isinstance(dossier, Dossier)
        assert dossier.params == MethodParameters(
            Band(D("0.80"), D("1.25")), D("2500"), 40, 20, D("0.80"), D("0.05"), 30, D("0.05")
        )
        # the hypothetical derivative's rate defaults to the instrument's forward rate
        assert dossier.hedged_item_rate == D("1.0956")
        assert dossier.payload["materiality_floor"] == D("2500")
        assert dossier.oci_release_method is OciReleaseMethod.RECYCLE_TO_PNL

    def test_the_payload_and_its_hash_are_those_stored(self) -> None:
        """Stored designations are compared by this hash on reload: it may not move."""
        dossier = resolve(DesignationRow.model_validate(designation()), HedgingPolicy(), instrument(), item())
        assert isinstance(dossier, Dossier)
        assert list(dossier.payload)[-2:] == ["band", "oci_release_method"]
        assert payload_sha256(dossier.payload) == "fe64db83a28f09fbc3ffc5f9fce4df59e772a4b467d610735e7762af84e593aa"

    def test_given_parameters_win(self) -> None:
        row = DesignationRow.model_validate(
            designation(band={"min": "0.9", "max": "1.1"}, materiality_floor="0", hedged_item_rate="1.1")
        )
        dossier = resolve(row, HedgingPolicy(), instrument(), item())
        assert isinstance(dossier, Dossier)
        assert (dossier.params.band, dossier.params.materiality_floor, dossier.hedged_item_rate) == (
            Band(D("0.9"), D("1.1")),
            D(0),
            D("1.1"),
        )

    def test_legs_in_two_currencies_are_refused(self) -> None:
        problems = resolve(
            DesignationRow.model_validate(designation()), HedgingPolicy(), instrument(currency="GBP"), item()
        )
        assert problems == [
            "the instrument is valued in GBP and the item in USD: the legs must be valued in one currency"
        ]

    def test_a_designation_after_the_exposure_and_a_window_below_its_minimum_are_refused(self) -> None:
        row = DesignationRow.model_validate(designation(designation_date="2025-01-02", regression_window=10))
        problems = resolve(row, HedgingPolicy(), instrument(), item())
        assert isinstance(problems, list) and len(problems) == 2

    def test_another_underlying_needs_a_locked_rate(self) -> None:
        problems = resolve(
            DesignationRow.model_validate(designation()),
            HedgingPolicy(),
            instrument(underlying="EURGBP", unit="EUR"),
            item(),
        )
        assert isinstance(problems, list) and problems[0].startswith("hedged_item_rate")

    @pytest.mark.parametrize(
        ("hedge_type", "kind", "method"),
        [
            (HedgeType.CASH_FLOW, HedgedItemKind.FORECAST_SALE, OciReleaseMethod.BASIS_ADJUSTMENT),
            (HedgeType.CASH_FLOW, HedgedItemKind.PAYABLE, OciReleaseMethod.RECYCLE_TO_PNL),
            (HedgeType.FAIR_VALUE, HedgedItemKind.RECEIVABLE, OciReleaseMethod.NONE),
            (HedgeType.NET_INVESTMENT, HedgedItemKind.RECEIVABLE, OciReleaseMethod.NONE),
        ],
    )
    def test_oci_release_method(self, hedge_type: HedgeType, kind: HedgedItemKind, method: OciReleaseMethod) -> None:
        row = DesignationRow.model_validate(designation(hedge_type=hedge_type.value))
        dossier = resolve(row, HedgingPolicy(), instrument(), item(kind=kind))
        assert isinstance(dossier, Dossier) and dossier.oci_release_method is method

    def test_the_prospective_test_is_critical_terms_whatever_the_method(self) -> None:
        row = DesignationRow.model_validate(designation(method="regression"))
        late = instrument(maturity_date=date(2025, 3, 31))  # 90 days after the receivable
        dossier = resolve(row, HedgingPolicy(), late, item())
        assert isinstance(dossier, Dossier)
        test = prospective_test(dossier, late, item())
        assert (test["method"], test["outcome"], test["failed_terms"]) == ("critical_terms", "fail", ["maturity"])


def items_file(*entries: dict[str, Any]) -> str:
    return json.dumps({"hedged_items": list(entries)})


def an_item(**overrides: Any) -> dict[str, Any]:
    return {
        "item_ref": "RCV-1",
        "kind": "receivable",
        "underlying": "EURUSD",
        "amount": 10000000,
        "unit": "EUR",
        "currency": "USD",
        "exposure_date": "2024-12-31",
        "description": "EUR invoice 4711",
        **overrides,
    }


class TestHedgedItemsFile:
    def test_good_items(self) -> None:
        rows, errors = parse_hedged_items(
            items_file(
                an_item(),
                an_item(
                    item_ref="AL-1",
                    kind="forecast_purchase",
                    underlying="LME-AL",
                    amount="500.5",
                    unit="mt",
                    probability=0.9,
                ),
            ),
            "items.json",
        )
        assert errors == []
        assert [(r.item_ref, r.amount, r.probability, r.kind.side) for r in rows] == [
            ("RCV-1", D("10000000"), None, Side.BUY),
            ("AL-1", D("500.5"), D("0.9"), Side.SELL),
        ]

    @pytest.mark.parametrize(
        ("entry", "message"),
        [
            (an_item(kind="forecast_sale"), "probability: a forecast needs a probability of at least 0.5"),
            (an_item(kind="forecast_sale", probability=0.4), "probability: a forecast needs a probability"),
            (an_item(probability=1), "probability: only a forecast has one"),
            (an_item(unit="USD"), "unit: USD is not the base currency of EURUSD (EUR)"),
            (an_item(amount=-5), "amount: "),
            (an_item(amount="1.5e3"), "amount: "),  # text with an exponent is not a plain number
            (an_item(kind="loan"), "kind: "),
        ],
    )
    def test_bad_items_name_the_entry(self, entry: dict[str, Any], message: str) -> None:
        rows, errors = parse_hedged_items(items_file(an_item(item_ref="OK"), entry), "items.json")
        assert [r.item_ref for r in rows] == ["OK"]
        assert len(errors) == 1 and errors[0].startswith(f"items.json: hedged_items[1]: {message}")

    def test_a_repeated_ref_is_an_error(self) -> None:
        _, errors = parse_hedged_items(items_file(an_item(), an_item()), "items.json")
        assert errors == ["items.json: hedged_items[1]: item_ref RCV-1 repeated"]

    @pytest.mark.parametrize("text", ["not json", "[]", '{"designations": []}', '{"hedged_items": {}}'])
    def test_not_a_file_of_this_kind(self, text: str) -> None:
        with pytest.raises(NotAFileOfThisKind):
            json_entries(text, "x.json", "hedged_items")

    def test_numbers_are_read_as_decimals(self) -> None:
        assert json_entries('{"k": [0.1]}', "x", "k") == [D("0.1")]

    def test_the_hypothetical_derivative_is_on_the_exposure_side(self) -> None:
        derivative = item().hypothetical(D("1.0956"), date(2024, 1, 2))
        assert (derivative.instrument, derivative.side, derivative.entry_price, derivative.maturity_date) == (
            Instrument.FX_FORWARD,
            Side.BUY,
            D("1.0956"),
            date(2024, 12, 31),
        )
        commodity = item(underlying="LME-AL", unit="mt", kind=HedgedItemKind.FORECAST_PURCHASE)
        assert commodity.hypothetical(D("2500"), date(2024, 1, 2)).instrument is Instrument.COMMODITY_FORWARD


HEADER = (
    "contract_ref,instrument,underlying,side,quantity,unit,entry_price,currency,trade_date,maturity_date,"
    "status,settlement_method"
)


class TestFxContractRows:
    def test_an_fx_forward_row(self) -> None:
        report = parse_contract_csv(
            f"{HEADER}\nFXF-1,fx_forward,EURUSD,sell,10000000,EUR,1.0956,USD,2024-01-02,2024-12-31,draft,ndf\n", "c.csv"
        )
        assert report.errors == []
        row = report.rows[0][1]
        expected = (Instrument.FX_FORWARD, ContractStatus.DRAFT, "ndf")
        assert (row.instrument, row.status, row.settlement_method) == expected

    @pytest.mark.parametrize(
        ("cells", "reason"),
        [
            (
                "FXF-1,fx_forward,EURUSD,sell,1,EUR,1.1,USD,2024-01-02,2024-12-31,active,",
                "settlement_method: an fx_forward",
            ),
            ("FXF-1,fx_forward,EURUSD,sell,1,EUR,1.1,USD,2024-01-02,2024-12-31,active,physical", "settlement_method:"),
            ("FXF-1,fx_forward,EURUSD,sell,1,USD,1.1,USD,2024-01-02,2024-12-31,active,ndf", "unit: USD"),
            ("FXF-1,fx_forward,LME-AL,sell,1,mt,1.1,USD,2024-01-02,2024-12-31,active,ndf", "underlying: LME-AL"),
            (
                "HC-1,commodity_forward,LME-AL,buy,1,mt,2500,USD,2024-01-02,2024-12-31,active,ndf",
                "settlement_method: only",
            ),
            (
                "HC-1,commodity_forward,LME-AL,buy,1,mt,2500,USD,2024-01-02,2024-12-31,draft,",
                "status: draft is an fx_forward",
            ),
        ],
    )
    def test_bad_rows(self, cells: str, reason: str) -> None:
        report = parse_contract_csv(f"{HEADER}\n{cells}\n", "c.csv")
        assert report.rows == [] and report.errors[0].reason.startswith(reason)


README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


class TestTheReadmeExamples:
    """The JSON and CSV examples of the README's Hedge accounting section are valid input."""

    SECTION = README.split("## Hedge accounting", 1)[1].split("\n## ", 1)[0]

    def blocks(self, language: str) -> list[str]:
        return re.findall(rf"```{language}\n(.*?)```", self.SECTION, flags=re.DOTALL)

    def test_the_hedged_items_example(self) -> None:
        rows, errors = parse_hedged_items(self.blocks("json")[0], "README")
        assert (len(rows), errors) == (2, [])

    def test_the_designations_example(self) -> None:
        rows, errors = parse_designations(self.blocks("json")[1], "README")
        assert (len(rows), errors) == (1, [])

    def test_the_fx_forward_example(self) -> None:
        report = parse_contract_csv(self.blocks("csv")[0], "README")
        assert (len(report.rows), report.errors) == (1, [])
