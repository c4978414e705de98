"""Rule packs (core.mt5.rule_packs) as tables: each pack's limit base, basis (the value
watched) and reset, with the firm's published example figures where it gives them.

Sources (docs/mt5.md, Rule packs):
- FTMO Academy, "Maximum Daily Loss" (2-Step): limit = balance at midnight CE(S)T - 5 % of
  the initial capital, on equity; its example: a $200,000 account with a closed profit of
  $4,000 on Monday may lose $14,000 more that day; on Tuesday (reset at 204,000) a floating
  loss of $13,000 breaches.
- FTMO Academy, "Maximum Loss" (2-Step): equity never below 90 % of the initial balance;
  its example: $100,000, balance 92,000 and a floating loss of 2,001 breaches.
- FTMO, "Maximum Loss" (1-Step): limit = max(highest end-of-day balance, initial) - 10 % of
  the initial capital, recalculated at midnight CE(S)T; its example: 90,000, then 94,000
  after a day ending at 104,000, still 94,000 after a day ending at 103,000.
- The5ers help, High Stakes: daily loss 5 % of the higher of the day's starting equity and
  balance, at 00:00 server time (UTC+3); max loss 10 % of the initial balance.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest

from core.errors import InvalidInput
from core.mt5.guard import GuardDecision, evaluate
from core.mt5.guard_day import DayDeal, GuardReading, day_bounds
from core.mt5.guard_limits import max_loss_base
from core.mt5.guard_policy import GuardPolicy, policy_for
from core.mt5.guard_state import GuardState, TripReason

R = TripReason


def pack(name: str, initial: str, **more: Any) -> GuardPolicy:
    return policy_for(GuardPolicy(), {"pack": name, "initial_balance": initial, "equity_jump_pct": 90, **more})


def judged(policy: GuardPolicy, start: datetime, readings: list[tuple[int, str, str]]) -> list[GuardDecision]:
    """Readings (seconds after `start`, balance, equity), each evaluated at its own time."""
    state, out = GuardState(), []
    for seconds, balance, equity in readings:
        at = start + timedelta(seconds=seconds)
        out.append(evaluate(state, GuardReading(5001, D(equity), D(balance), at), policy, at, deals=[]))
        state = out[-1].state
    return out


class TestResets:
    @pytest.mark.parametrize(
        ("policy", "now", "boundary"),
        [
            (
                pack("ftmo-2step", "100000"),
                datetime(2026, 1, 14, 12, tzinfo=UTC),
                datetime(2026, 1, 13, 23, tzinfo=UTC),
            ),
            (
                pack("ftmo-2step", "100000"),
                datetime(2026, 7, 14, 12, tzinfo=UTC),
                datetime(2026, 7, 13, 22, tzinfo=UTC),
            ),
            (
                pack("ftmo-1step", "100000"),
                datetime(2026, 3, 20, 12, tzinfo=UTC),
                datetime(2026, 3, 19, 23, tzinfo=UTC),
            ),
            # The5ers: 00:00 server time on a ny-close server: 22:00 UTC in winter, 21:00 UTC
            # in summer and in the March weeks New York is on EDT already
            (
                pack("the5ers-high-stakes", "100000").on_server("ny-close"),
                datetime(2026, 1, 14, 12, tzinfo=UTC),
                datetime(2026, 1, 13, 22, tzinfo=UTC),
            ),
            (
                pack("the5ers-high-stakes", "100000").on_server("ny-close"),
                datetime(2026, 3, 20, 12, tzinfo=UTC),
                datetime(2026, 3, 19, 21, tzinfo=UTC),
            ),
        ],
    )
    def test_the_day_resets_at_the_packs_time_and_zone(
        self, policy: GuardPolicy, now: datetime, boundary: datetime
    ) -> None:
        assert day_bounds(now, policy.day_start, policy.zone).start_utc == boundary


PRAGUE_MIDNIGHT = datetime(2026, 1, 11, 23, tzinfo=UTC)  # Monday 2026-01-12 00:00 CET
DAY = 86400


class TestFtmo2Step:
    POLICY = pack("ftmo-2step", "200000")

    def test_the_academy_example_monday_then_tuesday(self) -> None:
        # Monday: balance at midnight 200000: limit 200000 - 5 % * 200000 = 190000; after a
        # closed profit of 4000 (equity 204000) the permitted loss is 204000 - 190000 = 14000.
        # Tuesday: midnight balance 204000: limit 204000 - 10000 = 194000; a floating loss of
        # 13000 (equity 191000) is (204000 - 191000) / 200000 * 100 = 6.5 % >= 5 %.
        monday = judged(
            self.POLICY,
            PRAGUE_MIDNIGHT,
            [(30, "200000", "200000"), (3600, "204000", "204000"), (7200, "204000", "190001")],
        )
        assert [d.day_loss_pct for d in monday] == [D("0.0000"), D("-2.0000"), D("4.9995")]
        assert not any(d.executes for d in monday)
        tuesday = evaluate(
            monday[-1].state,
            GuardReading(5001, D("191000"), D("204000"), PRAGUE_MIDNIGHT + timedelta(seconds=DAY + 30)),
            self.POLICY,
            PRAGUE_MIDNIGHT + timedelta(seconds=DAY + 30),
            deals=[],
        )
        assert (tuesday.day_loss_pct, tuesday.reasons) == (D("6.5000"), (R.DAILY_LOSS,))

    @pytest.mark.parametrize(
        ("equity", "max_loss", "trips"),
        [
            ("90001.00", D("9.9990"), False),  # (100000 - 90001) / 100000 * 100
            ("90000.00", D("10.0000"), True),  # at the limit
            ("89999.00", D("10.0010"), True),  # the academy's: balance 92000, floating loss 2001
        ],
    )
    def test_max_loss_is_ten_percent_of_the_initial_balance_on_equity(
        self, equity: str, max_loss: D, trips: bool
    ) -> None:
        policy = pack("ftmo-2step", "100000", daily_loss_pct="50")  # the daily limit out of the way
        _, last = judged(policy, PRAGUE_MIDNIGHT, [(30, "92000", "92000"), (60, "92000", equity)])
        assert (last.max_loss_pct, R.MAX_LOSS in last.reasons) == (max_loss, trips)


class TestFtmo1Step:
    POLICY = pack("ftmo-1step", "100000", daily_loss_pct="50")

    def test_the_limit_trails_the_highest_end_of_day_balance(self) -> None:
        # The page's example: limit day 1 = 100000 - 10000 = 90000; day 2 (ended at 104000)
        # = 104000 - 10000 = 94000; day 3 (ended at 103000) = max(104000, 103000) - 10000 = 94000.
        decisions = judged(
            self.POLICY,
            PRAGUE_MIDNIGHT,
            [(30, "100000", "100000"), (DAY + 30, "104000", "104000"), (2 * DAY + 30, "103000", "103000")],
        )
        limits = [max_loss_base(self.POLICY, d.state.eod_high_balance) - D("10000") for d in decisions]
        assert limits == [D("90000"), D("94000"), D("94000")]
        # day 3: equity 94000 is (104000 - 94000) / 100000 * 100 = 10 %: max loss
        at = PRAGUE_MIDNIGHT + timedelta(seconds=2 * DAY + 60)
        breach = evaluate(decisions[-1].state, GuardReading(5001, D("94000"), D("103000"), at), self.POLICY, at, [])
        assert (breach.max_loss_pct, breach.reasons) == (D("10.0000"), (R.MAX_LOSS,))

    def test_money_paid_in_or_out_moves_the_mark_and_a_missed_boundary_is_not_guessed(self) -> None:
        day2 = judged(self.POLICY, PRAGUE_MIDNIGHT, [(30, "100000", "100000"), (DAY + 30, "104000", "104000")])
        withdrawal = DayDeal(9001, 2, PRAGUE_MIDNIGHT + timedelta(seconds=DAY + 600), D("-3000"))
        at = PRAGUE_MIDNIGHT + timedelta(seconds=DAY + 900)
        paid = evaluate(day2[-1].state, GuardReading(5001, D("101000"), D("101000"), at), self.POLICY, at, [withdrawal])
        assert paid.state.eod_high_balance == D("101000")  # 104000 - 3000: no loss, no new limit
        # day 3 first read 5 h after midnight, without the history: the mark stays
        late = PRAGUE_MIDNIGHT + timedelta(seconds=2 * DAY + 5 * 3600)
        missed = evaluate(paid.state, GuardReading(5001, D("99000"), D("99000"), late), self.POLICY, late, None)
        assert missed.state.eod_high_balance == D("101000")


class TestThe5ersHighStakes:
    POLICY = pack("the5ers-high-stakes", "100000").on_server("ny-close")
    SERVER_MIDNIGHT = datetime(2026, 1, 13, 22, tzinfo=UTC)  # 00:00 UTC+2 on 01-14

    @pytest.mark.parametrize(
        ("balance", "equity_at_start", "equity", "day_loss", "trips"),
        [
            # the higher is equity 102000: limit 102000 - 5 % * 102000 = 96900
            ("100000", "102000", "96901.00", D("4.9990"), False),  # (102000 - 96901) / 102000 * 100
            ("100000", "102000", "96900.00", D("5.0000"), True),
            # the higher is balance 100000: limit 100000 - 5000 = 95000
            ("100000", "98000", "95001.00", D("4.9990"), False),  # (100000 - 95001) / 100000 * 100
            ("100000", "98000", "95000.00", D("5.0000"), True),
        ],
    )
    def test_five_percent_of_the_higher_of_the_days_starting_equity_and_balance(
        self, balance: str, equity_at_start: str, equity: str, day_loss: D, trips: bool
    ) -> None:
        _, last = judged(self.POLICY, self.SERVER_MIDNIGHT, [(30, balance, equity_at_start), (60, balance, equity)])
        assert (last.day_loss_pct, R.DAILY_LOSS in last.reasons) == (day_loss, trips)

    def test_max_loss_is_ten_percent_of_the_initial_balance(self) -> None:
        policy = pack("the5ers-high-stakes", "100000", daily_loss_pct="50").on_server("ny-close")
        _, last = judged(policy, self.SERVER_MIDNIGHT, [(30, "91000", "91000"), (60, "91000", "90000")])
        assert (last.max_loss_pct, last.reasons) == (D("10.0000"), (R.MAX_LOSS,))


class TestCustomShape:
    # 4 % of the day's starting equity, watched on the balance (closed results only), reset
    # 17:00 New York (22:00 UTC in January), manual unlock; trailing max loss 8 % on equity.
    POLICY = policy_for(
        GuardPolicy(),
        {
            "daily_loss_pct": "4",
            "daily_basis": "equity",
            "daily_measure": "balance",
            "initial_balance": "50000",
            "max_loss_pct": "8",
            "max_loss_base": "eod_high_balance",
            "warning_pct": "20",
            "execution_pct": "30",
            "equity_jump_pct": "90",
        },
    )

    def test_the_daily_loss_watches_the_balance(self) -> None:
        start = datetime(2026, 1, 13, 22, tzinfo=UTC)
        # equity 47500 with the balance 50000: (50000 - 50000) / 50000 = 0 %: floating only;
        # balance 48000: (50000 - 48000) / 50000 * 100 = 4 %: executes
        decisions = judged(self.POLICY, start, [(30, "50000", "50000"), (60, "50000", "47500"), (90, "48000", "48000")])
        assert [d.day_loss_pct for d in decisions] == [D("0.0000"), D("0.0000"), D("4.0000")]
        assert decisions[-1].reasons == (R.DAILY_LOSS,)
        # max loss (50000 - 48000) / 50000 * 100 = 4 % of 8 %
        assert decisions[-1].max_loss_pct == D("4.0000")


def test_a_pack_needs_the_initial_balance_and_an_unknown_pack_is_refused() -> None:
    with pytest.raises(InvalidInput, match="initial_balance"):
        policy_for(GuardPolicy(), {"pack": "ftmo-2step"})
    with pytest.raises(InvalidInput, match="unknown rule pack"):
        policy_for(GuardPolicy(), {"pack": "ftmo-3step", "initial_balance": "1"})
