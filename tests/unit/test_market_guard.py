"""core.mt5.market_guard: gaps, wide spreads, the hold and the policies. Tables of cases,
thresholds computed by hand beside each.

Gap % = |bid - last bid| / last bid * 100; a gap is strictly more than gap_pct (2).
Spread wide: ask - bid > spread_multiple (5) * the median of the last spreads, once
min_samples (5) are known."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from core.errors import InvalidInput
from core.mt5.market_guard import (
    MarketAction,
    MarketEventKind,
    MarketPolicies,
    MarketPolicy,
    Quote,
    SymbolState,
    closes_on_gap,
    evaluate_symbol,
    gap_pct,
    held_symbols,
    market_policy_for,
    still_held,
)

D = Decimal
POLICY = MarketPolicy()  # gap 2 %, spread 5x the median of 20, 5 samples, closed after 3600 s
FRIDAY = int(datetime(2026, 11, 20, 21, 59, tzinfo=UTC).timestamp() * 1000)
LATER = FRIDAY + 30_000  # the next sync, 30 s on
MONDAY = int(datetime(2026, 11, 22, 22, 0, 5, tzinfo=UTC).timestamp() * 1000)  # the week's first tick
NORMAL = (D("0.00010"),) * 5  # five spreads of 10 points (EURUSD, point 0.00001)


def state(bid: str = "1.08600", msc: int = FRIDAY, spreads: tuple[Decimal, ...] = NORMAL) -> SymbolState:
    return SymbolState(D(bid), msc, spreads)


def quote(bid: str, msc: int = LATER, spread: str = "0.00010") -> Quote:
    return Quote("EURUSD", D(bid), D(bid) + D(spread), msc)


@pytest.mark.parametrize(
    ("before", "now", "kinds", "figure", "across"),
    [
        # (1.11858 - 1.08600) / 1.08600 * 100 = 0.03258 / 1.086 * 100 = 3.0000 > 2: over the weekend
        (state(), quote("1.11858", MONDAY), [MarketEventKind.MARKET_GAP], D("3.0000"), True),
        # the same move 30 s after the last tick: a gap, not across a close
        (state(), quote("1.11858"), [MarketEventKind.MARKET_GAP], D("3.0000"), False),
        # down 2.5 %: 1.086 * 0.975 = 1.05885
        (state(), quote("1.05885"), [MarketEventKind.MARKET_GAP], D("2.5000"), False),
        # exactly 2 %: 1.086 * 1.02 = 1.10772: not more than 2
        (state(), quote("1.10772"), [], None, False),
        # 1.9 % over the weekend: 1.086 * 1.019 = 1.106634: no gap, closed market or not
        (state(), quote("1.106634", MONDAY), [], None, False),
        # the first quote of a symbol: remembered, nothing to compare with
        (SymbolState(), quote("1.11858"), [], None, False),
    ],
)
def test_gaps(
    before: SymbolState, now: Quote, kinds: list[MarketEventKind], figure: Decimal | None, across: bool
) -> None:
    decision = evaluate_symbol(before, now, POLICY)
    assert [e.kind for e in decision.events] == kinds
    if figure is not None:
        (event,) = decision.events
        assert (event.figure, event.across_close, event.before, event.now) == (figure, across, before.last_bid, now.bid)
    assert (decision.state.last_bid, decision.state.last_tick_msc) == (now.bid, now.time_msc)


@pytest.mark.parametrize(
    ("spreads", "spread", "wide", "multiple", "median"),
    [
        (NORMAL, "0.00080", True, D("8.0000"), D("0.00010")),  # 0.00080 / 0.00010 = 8 > 5
        (NORMAL, "0.00050", False, None, None),  # 5 x 0.00010 exactly: not wider
        (NORMAL, "0.00051", True, D("5.1000"), D("0.00010")),
        (NORMAL[:4], "0.00080", False, None, None),  # 4 spreads known < 5: not judged yet
        # median of 10, 20, 10, 20, 10 = 10: 0.00055 / 0.00010 = 5.5
        ((D("0.00010"), D("0.00020")) * 2 + (D("0.00010"),), "0.00055", True, D("5.5000"), D("0.00010")),
        # median of 10, 20, 10, 20, 10, 20 = (10 + 20) / 2 = 15: 0.00080 / 0.00015 = 5.3333
        ((D("0.00010"), D("0.00020")) * 3, "0.00080", True, D("5.3333"), D("0.00015")),
        ((D("0.00010"), D("0.00020")) * 3, "0.00075", False, None, None),  # 5 x 15 = 75: not wider
    ],
)
def test_wide_spreads(
    spreads: tuple[Decimal, ...], spread: str, wide: bool, multiple: Decimal | None, median: Decimal | None
) -> None:
    decision = evaluate_symbol(state(spreads=spreads), quote("1.08600", spread=spread), POLICY)
    assert decision.has(MarketEventKind.SPREAD_WIDE) is wide
    assert decision.state.wide is wide
    if wide:
        (event,) = decision.events
        assert (event.figure, event.before, event.now) == (multiple, median, D(spread))
        assert decision.state.wide_since_msc == LATER
    # a usual spread joins the window; a wide one does not (the median stays the usual spread)
    assert decision.state.spreads == (spreads if wide else (*spreads, D(spread)))


def test_a_wide_episode_is_raised_once_and_ends_with_a_normal_spread() -> None:
    """Wide readings stay out of the window: the median stays 0.00010 however long the spread is 8x."""
    first = evaluate_symbol(state(), quote("1.08600", spread="0.00080"), POLICY)
    still = evaluate_symbol(first.state, quote("1.08600", LATER + 30_000, "0.00080"), POLICY)
    back = evaluate_symbol(still.state, quote("1.08600", LATER + 60_000), POLICY)
    assert [len(d.events) for d in (first, still, back)] == [1, 0, 0]
    assert (first.state.spreads, still.state.spreads, back.state.spreads) == (NORMAL, NORMAL, (*NORMAL, D("0.00010")))
    assert (first.state.wide_since_msc, still.state.wide_since_msc, back.state.wide) == (LATER, LATER, False)


def test_the_window_keeps_the_last_spreads_only() -> None:
    policy = MarketPolicy(spread_window=3, min_samples=3)
    decision = evaluate_symbol(state(spreads=NORMAL), quote("1.08600", spread="0.00020"), policy)
    assert decision.state.spreads == (D("0.00010"), D("0.00010"), D("0.00020"))


@pytest.mark.parametrize(
    "now",
    [
        quote("1.20000", FRIDAY),  # no newer tick (a closed market shows the last quote)
        quote("0", MONDAY),  # no bid
        Quote("EURUSD", D("1.1"), D("1.0"), MONDAY),  # ask below bid: not a quote
    ],
)
def test_no_usable_tick_changes_nothing(now: Quote) -> None:
    before = state()
    assert evaluate_symbol(before, now, POLICY).state == before
    assert evaluate_symbol(before, now, POLICY).events == ()


def test_gap_pct_formula() -> None:
    assert gap_pct(D("2650.00"), D("2570.50")) == D("3")  # 79.50 / 2650 * 100 = 3


@pytest.mark.parametrize(
    ("made", "now", "held"),
    [
        (timedelta(0), timedelta(seconds=119), True),  # waited 119 s < 120
        (timedelta(0), timedelta(seconds=120), False),  # 120 s: it goes
        (timedelta(0), timedelta(hours=1), False),
    ],
)
def test_a_held_close_goes_after_max_hold(made: timedelta, now: timedelta, held: bool) -> None:
    t0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    assert still_held(POLICY.max_hold, t0 + made, t0 + now) is held


def test_held_symbols_are_the_wide_ones_whose_policy_holds() -> None:
    policies = MarketPolicies(
        MarketPolicy(max_hold_s=60),
        {"XAUUSD": MarketPolicy(action=MarketAction.CLOSE_ON_GAP), "GBPUSD": MarketPolicy(action=MarketAction.ALERT)},
    )
    wide = SymbolState(D("1"), FRIDAY, NORMAL, wide_since_msc=FRIDAY)
    states = {"EURUSD": wide, "USDJPY": state(), "XAUUSD": wide, "GBPUSD": wide}
    assert held_symbols(policies, states) == {"EURUSD": timedelta(seconds=60)}


@pytest.mark.parametrize(
    ("action", "gapped", "closes"),
    [
        (MarketAction.CLOSE_ON_GAP, True, True),
        (MarketAction.CLOSE_ON_GAP, False, False),
        (MarketAction.HOLD_ON_SPREAD, True, False),
        (MarketAction.ALERT, True, False),
    ],
)
def test_closes_on_gap(action: MarketAction, gapped: bool, closes: bool) -> None:
    policy = MarketPolicy(action=action)
    decision = evaluate_symbol(state(), quote("1.11858" if gapped else "1.08600"), policy)
    assert closes_on_gap(decision, policy) is closes


def test_default_policy() -> None:
    assert (POLICY.action, POLICY.gap_pct, POLICY.spread_multiple, POLICY.max_hold_s) == (
        MarketAction.HOLD_ON_SPREAD,
        D("2"),
        D("5"),
        120,
    )


@pytest.mark.parametrize(
    "override",
    [{"gap_pct": "0"}, {"spread_multiple": "1"}, {"action": "liquidate"}, {"max_hold": 5}, {"max_hold_s": -1}],
)
def test_a_bad_override_is_refused(override: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        market_policy_for(POLICY, override)


def test_an_override_keeps_the_other_defaults() -> None:
    policy = market_policy_for(POLICY, {"action": "close_on_gap", "gap_pct": "1.5"})
    assert (policy.action, policy.gap_pct, policy.spread_multiple) == (MarketAction.CLOSE_ON_GAP, D("1.5"), D("5"))


def test_state_round_trips_through_json() -> None:
    s = SymbolState(D("1.08600"), FRIDAY, NORMAL, FRIDAY)
    assert SymbolState.from_dict(s.as_dict()) == s
    assert SymbolState.from_dict(SymbolState().as_dict()) == SymbolState()


def test_a_long_wide_episode_stays_wide() -> None:
    """Ten readings at 8x after five usual ones: the median is still 0.00010, the spread wide."""
    decision = evaluate_symbol(state(), quote("1.08600", spread="0.00080"), POLICY)
    for n in range(1, 10):
        decision = evaluate_symbol(decision.state, quote("1.08600", LATER + n * 30_000, "0.00080"), POLICY)
        assert decision.events == () and decision.state.wide


def test_keys() -> None:
    from core import keys

    assert keys.market_alert_key(5001, "market_gap", "EURUSD", MONDAY) == f"DDALERT:5001:market_gap:EURUSD:t{MONDAY}"
    assert keys.market_close_intent_key(5001, 88811) == "CLOSE:5001:88811:gap"
    assert keys.held_close_alert_key("CLOSE:5001:88811:ep3") == "DDALERT:5001:close_held:88811:ep3"
