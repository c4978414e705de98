"""Settlement rules (core.hedging.settlement, seed 004 §3.2.5, §4.1): the proposal's amounts,
the settlement entry's lines and the order's checks, every figure worked by hand.

The derivative is derecognised at its carrying amount C (IFRS 9 3.2.3(a): the rights to its
cash flows expire at settlement); the cash booked less C is the gain or loss not yet
recognised, in P&L (4.1.4, a derivative at fair value through P&L). Lines: debit positive,
the demo chart (1450 / 2450 derivative asset / liability, 7400 FX gain/loss), cash 1010-<ccy>."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from core.hedging.accounts import DEFAULT_CHART
from core.hedging.dossier import HedgeType
from core.hedging.settlement import (
    Carrying,
    Fixing,
    MissingFixing,
    Proposal,
    SettlementAccounts,
    SettlementKind,
    SettlementOrder,
    fixing_source_of,
    order_problems,
    propose,
    settlement_entry,
)
from core.values import Contract, ContractStatus, Instrument, Side

D = Decimal
DUE = date(2026, 12, 31)
ACCOUNTS = SettlementAccounts(DEFAULT_CHART)


def forward(method: str, side: Side = Side.SELL, instrument: Instrument = Instrument.FX_FORWARD) -> Contract:
    if instrument is Instrument.COMMODITY_FORWARD:
        return Contract(7, "AL-1", instrument, "LME-AL", side, D(10), "mt", D(2500), "USD", date(2026, 10, 1), DUE,
                        ContractStatus.ACTIVE)  # fmt: skip
    return Contract(3, "FX-1", instrument, "EURUSD", side, D(1000000), "EUR", D("1.10"), "USD", date(2026, 10, 1),
                    DUE, ContractStatus.ACTIVE, method)  # fmt: skip


def proposal(contract: Contract, fixing: str) -> Proposal:
    made = propose(contract, Fixing(contract.underlying, date(2026, 12, 30), "ecb", D(fixing), 99))
    assert isinstance(made, Proposal)
    return made


def order(rate: str, by: str = "dana", one: str = "erin", two: str = "frank") -> SettlementOrder:
    return SettlementOrder("FX-1", DUE, D(rate), by, one, two)


def lines(entry: object) -> dict[str, D]:
    out: dict[str, D] = {}
    for line in entry.lines:  # type: ignore[attr-defined]
        out[line.account] = out.get(line.account, D(0)) + line.amount
    return out


class TestProposal:
    @pytest.mark.parametrize(
        ("method", "side", "fixing", "difference"),
        [
            # NDF: side x N x (F - K): sold EUR 1m at 1.10, fixing 1.105: -1,000,000 x 0.005 = -5,000 (pays).
            ("ndf", Side.SELL, "1.105", D("-5000.00")),
            # bought: +1,000,000 x (1.0925 - 1.10) = -7,500.
            ("ndf", Side.BUY, "1.0925", D("-7500.00")),
            # deliverable: the same difference, and the two legs below.
            ("deliverable", Side.BUY, "1.105", D("5000.00")),
        ],
    )
    def test_the_cash_difference(self, method: str, side: Side, fixing: str, difference: D) -> None:
        assert proposal(forward(method, side), fixing).amounts()["difference"] == difference

    def test_a_deliverable_exchanges_the_notional_at_k(self) -> None:
        amounts = proposal(forward("deliverable", Side.BUY), "1.105").amounts()
        # Bought EUR 1,000,000 at K = 1.10: EUR +1,000,000 received, USD -1,100,000 paid.
        assert (amounts["base_currency"], amounts["base_amount"], amounts["quote_amount"]) == (
            "EUR",
            D("1000000.00"),
            D("-1100000.00"),
        )

    def test_a_commodity_forward_settles_in_cash(self) -> None:
        made = proposal(forward("", Side.BUY, Instrument.COMMODITY_FORWARD), "2560")
        # 10 mt bought at 2,500, settlement price 2,560: 10 x 60 = 600 USD received.
        assert (made.kind, made.amounts()["difference"]) == (SettlementKind.CASH, D("600.00"))

    def test_no_fixing_names_the_missing_price(self) -> None:
        made = propose(forward("ndf"), Fixing("EURUSD", date(2026, 12, 30), "ecb"))
        assert isinstance(made, MissingFixing)
        assert made.reason == "FX-1: no fixing price EURUSD of 2026-12-30 from ecb (settlement 2026-12-31)"


class TestEntry:
    def test_an_ndf_at_its_carrying_amount_books_no_gain(self) -> None:
        # Cash -5,000 (Cr 1010-USD); C = -5,000 a liability: Dr 2450 5,000; -(V - C) = 0: no P&L line.
        entry = settlement_entry(proposal(forward("ndf"), "1.105"), order("1.105"), Carrying(D(-5000)), ACCOUNTS)
        assert lines(entry) == {"1010-USD": D("-5000.00"), "2450": D(5000)}
        assert entry.key == "FX_SETTLEMENT-3-2026-12-31"

    def test_a_deliverable_at_another_rate(self) -> None:
        # Bought EUR 1m at 1.10, settled at R = 1.108, carried as an asset of 5,000 (H at 1.105):
        # Dr 1010-EUR 1,108,000 (EUR 1m at R), Cr 1010-USD 1,100,000 (at K), Cr 1450 5,000;
        # FX gain/loss -(1,000,000 x (1.108 - 1.10) - 5,000) = -3,000: Cr 7400 3,000.
        entry = settlement_entry(
            proposal(forward("deliverable", Side.BUY), "1.105"),
            order("1.108"),
            Carrying(D(5000)),
            ACCOUNTS,
            relationship_id=2,
            hedge_type=HedgeType.CASH_FLOW,
        )
        assert lines(entry) == {
            "1010-EUR": D("1108000.00"),
            "1010-USD": D("-1100000.00"),
            "1450": D(-5000),
            "7400": D("-3000.00"),
        }
        assert entry.figures["base_amount"] == D("1000000.00")

    def test_a_contract_never_posted_takes_all_to_pnl(self) -> None:
        # Commodity, C = 0: Dr cash 600, Cr 7400 600.
        made = proposal(forward("", Side.BUY, Instrument.COMMODITY_FORWARD), "2560")
        entry = settlement_entry(made, order("2560"), Carrying(), ACCOUNTS)
        assert lines(entry) == {"1010-USD": D("600.00"), "7400": D("-600.00")}


class TestOrder:
    @pytest.mark.parametrize(
        ("given", "problem"),
        [
            (order("1.105", one="erin", two="Erin"), "approver_2: Erin is also approver_1: two distinct approvers"),
            (order("1.105", by="dana", one="dana"), "approver_1: dana settles this contract and may not approve it"),
            (order("1.106"), "rate: 1.106 does not confirm the fixing 1.105 (EURUSD of 2026-12-30 from ecb)"),
        ],
    )
    def test_refused(self, given: SettlementOrder, problem: str) -> None:
        found = order_problems(given, proposal(forward("ndf"), "1.105"))
        assert any(p.startswith(problem) for p in found), found

    def test_a_deliverable_takes_its_actual_rate(self) -> None:
        assert order_problems(order("1.108"), proposal(forward("deliverable"), "1.105")) == []


class TestFixingSource:
    @pytest.mark.parametrize(
        ("instrument", "stated", "source"),
        [
            (Instrument.FX_FORWARD, None, "ecb"),  # the ECB reference rate by default
            (Instrument.FX_FORWARD, "vendor_csv", "vendor_csv"),
            (Instrument.COMMODITY_FORWARD, None, None),  # the settlement price, whatever its source
            (Instrument.COMMODITY_FORWARD, "lme_check", "lme_check"),
        ],
    )
    def test_the_stated_source_else_the_default(self, instrument: Instrument, stated: str | None, source: str) -> None:
        assert fixing_source_of(instrument, stated) == source

    def test_the_proposal_records_it(self) -> None:
        fixing = Fixing("EURUSD", date(2026, 12, 30), "vendor_csv", D("1.107"), 5, "vendor_csv")
        made = propose(forward("ndf"), fixing)
        assert isinstance(made, Proposal)
        assert made.payload["fixing"]["fixing_source"] == "vendor_csv"
