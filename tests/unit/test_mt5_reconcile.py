"""Reconciliation, as tables of cases: each class of the union of expected and actual."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from core.mt5 import constants as c
from core.mt5.reconcile import Rules, reconcile, tickets_to_look_up
from core.mt5.values import ActualPosition, ClosingDeal, ExpectedPosition, ReconReason, SymbolSpec
from core.values import Side

EURUSD = SymbolSpec("EURUSD", 5, D("0.00001"), D("0.01"))
XAUUSD = SymbolSpec("XAUUSD", 2, D("0.01"), D("0.01"))
SYMBOLS = {"EURUSD": EURUSD, "XAUUSD": XAUUSD}
BUY, SELL = Side.BUY, Side.SELL
HEDGING = Rules(magic_numbers=frozenset({7}), slippage_points=10)
NETTING = Rules(magic_numbers=frozenset({7}), slippage_points=10, netting=True)


def exp(
    signal: str,
    *,
    ticket: int | None = 1001,
    direction: Side = BUY,
    volume: str = "0.10",
    entry: str = "1.08500",
    sl: str | None = "1.08000",
    symbol: str = "EURUSD",
    magic: int = 7,
) -> ExpectedPosition:
    return ExpectedPosition(
        id=sum(map(ord, signal)),
        signal_id=signal,
        approval_id=None,
        symbol=symbol,
        direction=direction,
        volume=D(volume),
        entry_price=D(entry),
        sl=D(sl) if sl else None,
        tp=None,
        magic=magic,
        ticket=ticket,
    )


def act(
    ticket: int = 1001,
    *,
    direction: Side = BUY,
    volume: str = "0.10",
    price_open: str = "1.08500",
    symbol: str = "EURUSD",
    magic: int = 7,
) -> ActualPosition:
    return ActualPosition(
        ticket=ticket,
        symbol=symbol,
        direction=direction,
        volume=D(volume),
        price_open=D(price_open),
        price_current=D("1.08600"),
        sl=None,
        tp=None,
        magic=magic,
        profit=D("10.00"),
        swap=D("0.00"),
    )


def deal(
    position: int, reason: int, price: str, *, ticket: int = 9001, profit: str = "-50.00", second: int = 0
) -> ClosingDeal:
    return ClosingDeal(
        ticket=ticket,
        position_id=position,
        reason=reason,
        price=D(price),
        volume=D("0.10"),
        profit=D(profit),
        time=datetime(2026, 11, 20, 10, 0, second, tzinfo=UTC),
    )


def classes(
    expected: list[ExpectedPosition],
    actual: list[ActualPosition],
    deals: dict[int, tuple[ClosingDeal, ...]] | None = None,
    rules: Rules = HEDGING,
) -> list[tuple[str, str]]:
    return [(o.subject, o.reason.value) for o in reconcile(expected, actual, SYMBOLS, deals or {}, rules)]


class TestPairsOnHedgingAccounts:
    @pytest.mark.parametrize(
        ("expected", "actual", "reason"),
        [
            # same ticket, volume and entry
            (exp("A"), act(), "matched"),
            # entry 10 points away: |1.08510 - 1.08500| / 0.00001 = 10, not beyond 10
            (exp("A"), act(price_open="1.08510"), "matched"),
            # 11 points: beyond the tolerance of 10
            (exp("A"), act(price_open="1.08511"), "slippage"),
            # 11 points the favourable way is slippage too: the entry is not where it was meant
            (exp("A"), act(price_open="1.08489"), "slippage"),
            # volume 0.09 of 0.10: differs by 0.01 = one volume step
            (exp("A"), act(volume="0.09"), "partial_fill"),
            # 0.095 of 0.10: 0.005 is below the step of 0.01
            (exp("A"), act(volume="0.095"), "matched"),
            # volume and entry both off: volume wins
            (exp("A"), act(volume="0.05", price_open="1.08600"), "partial_fill"),
        ],
    )
    def test_a_pair_by_ticket(self, expected: ExpectedPosition, actual: ActualPosition, reason: str) -> None:
        assert classes([expected], [actual]) == [("t1001", reason)]

    def test_the_outcome_carries_both_sides_and_the_differences(self) -> None:
        [outcome] = reconcile([exp("A")], [act(volume="0.07", price_open="1.08520")], SYMBOLS, {}, HEDGING)

        assert outcome.ticket == 1001 and outcome.expected_volume == D("0.10")
        assert outcome.details == {
            "matched_by": "ticket",
            "volume_diff": D("-0.03"),
            "slippage_points": D("20.0"),
        }  # (1.08520 - 1.08500) / 0.00001

    def test_before_its_ticket_is_known_it_pairs_by_symbol_direction_and_magic_oldest_first(self) -> None:
        expected = [exp("A", ticket=None)]
        actual = [act(1003), act(1002, direction=SELL), act(1001, symbol="XAUUSD"), act(1004, magic=8)]

        outcomes = reconcile(expected, actual, SYMBOLS, {}, HEDGING)

        assert [(o.subject, o.reason.value) for o in outcomes] == [
            ("t1001", "unknown_position"),
            ("t1002", "unknown_position"),
            ("t1003", "matched"),
        ]
        assert outcomes[2].details["matched_by"] == "symbol_direction_magic"
        # 1004's magic 8 is not the account's (7): somebody else's position, not reported

    def test_an_unticketed_expectation_with_nothing_open_is_missing(self) -> None:
        assert classes([exp("A", ticket=None)], []) == [("sig-A", "missing")]


class TestGonePositions:
    @pytest.mark.parametrize(
        ("deal_reason", "exit_price", "reason"),
        [
            (c.DEAL_REASON_CLIENT, "1.08400", "manual_close"),
            (c.DEAL_REASON_MOBILE, "1.08400", "manual_close"),
            (c.DEAL_REASON_WEB, "1.08400", "manual_close"),
            (c.DEAL_REASON_TP, "1.09000", "closed_by_sl_tp"),
            # SL 1.08000, filled at 1.07990: 10 points beyond, within the tolerance
            (c.DEAL_REASON_SL, "1.07990", "closed_by_sl_tp"),
            # filled at 1.07989: 11 points below the stop of a buy: the price gapped over it
            (c.DEAL_REASON_SL, "1.07989", "gap"),
            (c.DEAL_REASON_SO, "1.07500", "stop_out"),
            (c.DEAL_REASON_EXPERT, "1.08400", "missing"),
        ],
    )
    def test_the_closing_deal_says_why(self, deal_reason: int, exit_price: str, reason: str) -> None:
        deals = {1001: (deal(1001, deal_reason, exit_price),)}

        assert classes([exp("A")], [], deals) == [("t1001", reason)]

    def test_a_sell_gaps_above_its_stop(self) -> None:
        # sell with SL 1.09000 stopped at 1.09011: 11 points above
        deals = {1001: (deal(1001, c.DEAL_REASON_SL, "1.09011"),)}

        assert classes([exp("A", direction=SELL, sl="1.09000")], [], deals) == [("t1001", "gap")]

    def test_without_a_stop_loss_an_sl_close_is_never_a_gap(self) -> None:
        deals = {1001: (deal(1001, c.DEAL_REASON_SL, "1.07000"),)}

        assert classes([exp("A", sl=None)], [], deals) == [("t1001", "closed_by_sl_tp")]

    def test_the_last_closing_deal_decides_and_the_profit_is_their_sum(self) -> None:
        deals = {
            1001: (
                deal(1001, c.DEAL_REASON_CLIENT, "1.08400", ticket=1, profit="-5.00", second=1),
                deal(1001, c.DEAL_REASON_SO, "1.07500", ticket=2, profit="-100.00", second=2),
            )
        }

        [outcome] = reconcile([exp("A")], [], SYMBOLS, deals, HEDGING)

        assert outcome.reason is ReconReason.STOP_OUT
        assert outcome.close_profit == D("-105.00")  # -5.00 + -100.00
        assert outcome.details == {"close_reason": "so", "closing_deals": 2}

    def test_no_deal_in_the_history_is_missing(self) -> None:
        assert classes([exp("A")], [], {}) == [("t1001", "missing")]

    def test_only_tickets_not_open_are_looked_up(self) -> None:
        expected = [exp("A", ticket=1001), exp("B", ticket=1002), exp("C", ticket=None)]

        assert tickets_to_look_up(expected, [act(1001)], netting=False) == [1002]
        assert tickets_to_look_up(expected, [act(1001)], netting=True) == []  # EURUSD is open


class TestNettingAccounts:
    def test_the_net_of_a_symbol_is_compared_with_its_one_position(self) -> None:
        # 0.10 at 1.08500 and 0.30 at 1.08700: net 0.40 at (0.1*1.085 + 0.3*1.087) / 0.4 = 1.08650
        expected = [
            exp("A", ticket=None, volume="0.10", entry="1.08500"),
            exp("B", ticket=None, volume="0.30", entry="1.08700"),
        ]

        [outcome] = reconcile(expected, [act(2001, volume="0.40", price_open="1.08650")], SYMBOLS, {}, NETTING)

        assert (outcome.subject, outcome.reason.value) == ("t2001", "matched")
        assert outcome.details["signal_ids"] == ["A", "B"]
        assert outcome.expected_volume == D("0.40")

    @pytest.mark.parametrize(
        ("actual", "reason"),
        [
            (act(2001, volume="0.30", price_open="1.08650"), "partial_fill"),  # 0.30 of 0.40
            (act(2001, volume="0.40", price_open="1.08661"), "slippage"),  # 11 points from 1.08650
            (act(2001, direction=SELL, volume="0.40", price_open="1.08650"), "partial_fill"),  # -0.40 vs +0.40
        ],
    )
    def test_net_divergences(self, actual: ActualPosition, reason: str) -> None:
        expected = [
            exp("A", ticket=None, volume="0.10", entry="1.08500"),
            exp("B", ticket=None, volume="0.30", entry="1.08700"),
        ]

        assert classes(expected, [actual], rules=NETTING) == [("t2001", reason)]

    def test_a_closed_net_position_is_classified_by_its_deals(self) -> None:
        expected = [exp("A", ticket=2001), exp("B", ticket=2001)]
        deals = {2001: (deal(2001, c.DEAL_REASON_TP, "1.09000"),)}

        assert classes(expected, [], deals, rules=NETTING) == [("t2001", "closed_by_sl_tp")]

    def test_a_symbol_with_nothing_expected_is_unknown_and_nothing_open_is_missing(self) -> None:
        expected = [exp("A", ticket=None, symbol="XAUUSD", entry="2650.00", sl=None)]

        assert classes(expected, [act(2001)], rules=NETTING) == [
            ("sym-XAUUSD", "missing"),
            ("t2001", "unknown_position"),
        ]


def test_every_position_of_the_account_counts_when_it_has_no_magic_numbers() -> None:
    assert classes([], [act(1, magic=0), act(2, magic=99)], rules=Rules()) == [
        ("t1", "unknown_position"),
        ("t2", "unknown_position"),
    ]
