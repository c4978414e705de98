"""The guard's decision, sync after sync, as tables of readings: peak and drawdown, warning
and re-arm, confirm_syncs, bad and stale readings, the latch and its reset, shadow mode,
the daily loss with its anchor, and the state's JSON form.

Unless a case says otherwise: warning 5 %, execution 10 %, hysteresis 1 % (re-arm below
4 %), confirm_syncs 1, max_sync_age_s 120, equity jump 20 %, day 17:00 New York.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest

from core.mt5 import constants as c
from core.mt5.guard import GuardDecision, GuardEvent, TripReason, drawdown_pct, evaluate, shown
from core.mt5.guard_day import AnchorSource, DayAnchor, DayDeal, GuardReading
from core.mt5.guard_policy import DayBasis, GuardMode, GuardPolicy, policy_for
from core.mt5.guard_state import GuardState, GuardStatus, reset, state_as_dict, state_from_dict

E = GuardEvent
BASE = policy_for(
    GuardPolicy(),
    {
        "warning_pct": 5,
        "execution_pct": 10,
        "hysteresis_pct": 1,
        "confirm_syncs": 1,
        "max_sync_age_s": 120,
        "equity_jump_pct": 20,
    },
)
START = datetime(2026, 1, 14, 14, 0, tzinfo=UTC)  # Wednesday 09:00 New York: trading day 01-14
STEP = timedelta(seconds=30)


def at(i: int) -> datetime:
    return START + i * STEP


def read(equity: str, i: int, balance: str | None = None, confirmed: bool = False) -> GuardReading:
    return GuardReading(5001, D(equity), D(balance or equity), at(i), confirmed)


def run(
    equities: list[str], policy: GuardPolicy = BASE, state: GuardState | None = None
) -> tuple[GuardState, list[GuardDecision]]:
    """Evaluate one reading per sync, 30 s apart, each seen at its own time."""
    state = state or GuardState()
    decisions = []
    for i, equity in enumerate(equities):
        decision = evaluate(state, read(equity, i), policy, at(i), deals=[])
        decisions.append(decision)
        state = decision.state
    return state, decisions


def events(decisions: list[GuardDecision]) -> list[tuple[GuardEvent, ...]]:
    return [d.events for d in decisions]


class TestFigures:
    @pytest.mark.parametrize(
        ("peak", "equity", "percent"),
        [
            ("10000.00", "9400.00", "6.0000"),  # (10000 - 9400) / 10000 * 100 = 6
            ("10250.50", "9800.00", "4.3949"),  # 450.50 / 10250.50 * 100 = 4.394907...
            ("12000.00", "10900.00", "9.1667"),  # 1100 / 12000 * 100 = 9.16666...
            ("20000.00", "19999.99", "0.0000"),  # 0.01 / 20000 * 100 = 0.00005: half-even to 0.0000
            ("20000.00", "19999.97", "0.0002"),  # 0.03 / 20000 * 100 = 0.00015: half-even to 0.0002
            ("10000.00", "10000.00", "0.0000"),
        ],
    )
    def test_drawdown_shown_to_4_dp_half_even(self, peak: str, equity: str, percent: str) -> None:
        assert shown(drawdown_pct(D(peak), D(equity))) == D(percent)

    def test_the_decision_uses_full_precision(self) -> None:
        # peak 10000, equity 9000.01: (10000 - 9000.01) / 10000 * 100 = 9.9999 < 10: no execution;
        # 9000.00 gives 10.0000 exactly: execution.
        _, below = run(["10000.00", "9000.01"], policy_for(BASE, {"equity_jump_pct": 50}))
        _, at_level = run(["10000.00", "9000.00"], policy_for(BASE, {"equity_jump_pct": 50}))

        assert E.EXECUTE not in below[-1].events and E.EXECUTE in at_level[-1].events


class TestPeak:
    def test_drawdown_is_measured_from_the_peak_not_the_start(self) -> None:
        # start 10000, peak 12000; 10900 is 9 % above the start but (12000 - 10900) / 12000 =
        # 9.1667 % below the peak; 10800 is (12000 - 10800) / 12000 = 10.0000 %: execution.
        state, decisions = run(["10000.00", "11000.00", "12000.00", "10900.00", "10800.00"])

        assert [d.drawdown_pct for d in decisions] == [D("0.0000"), D("0.0000"), D("0.0000"), D("9.1667"), D("10.0000")]
        assert events(decisions) == [(), (), (), (E.WARNING,), (E.EXECUTE,)]
        assert decisions[-1].reasons == (TripReason.DRAWDOWN,)
        assert (state.status, state.episode, state.peak_equity) == (GuardStatus.TRIPPED, 1, D("12000.00"))


class TestWarning:
    def test_once_per_episode_and_rearmed_below_warning_minus_hysteresis(self) -> None:
        # peak 10000: 6 %, 7 %, 4.1 %, 4.0 % (not below 4), 3.9 % (re-armed), 5.0 % (a new episode)
        state, decisions = run(["10000.00", "9400.00", "9300.00", "9590.00", "9600.00", "9610.00", "9500.00"])

        assert events(decisions) == [(), (E.WARNING,), (), (), (), (E.REARMED,), (E.WARNING,)]
        assert state.status is GuardStatus.WARNED

    def test_without_hysteresis_it_rearms_just_below_the_warning(self) -> None:
        _, decisions = run(["10000.00", "9500.00", "9501.00"], policy_for(BASE, {"hysteresis_pct": 0}))

        assert events(decisions) == [(), (E.WARNING,), (E.REARMED,)]  # 5.0000 %, then 4.99 %


class TestConfirmSyncs:
    POLICY = policy_for(BASE, {"confirm_syncs": 2})

    def test_one_breach_then_recovery_does_not_execute(self) -> None:
        # 11 % (breach 1 of 2), then 4.5 % (the count starts again), then 11 % (1 of 2 again)
        state, decisions = run(["10000.00", "8900.00", "9550.00", "8900.00"], self.POLICY)

        assert all(E.EXECUTE not in d.events for d in decisions)
        assert [d.state.breaches_in_row for d in decisions] == [0, 1, 0, 1]
        assert state.status is GuardStatus.WARNED

    def test_two_breaches_in_a_row_execute(self) -> None:
        state, decisions = run(["10000.00", "8900.00", "8800.00"], self.POLICY)

        assert events(decisions) == [(), (E.WARNING,), (E.EXECUTE,)]
        assert (state.status, state.episode, state.breaches_in_row) == (GuardStatus.TRIPPED, 1, 0)


class TestBadReadings:
    def test_one_jumped_reading_asks_for_confirmation_and_changes_nothing(self) -> None:
        # 10000 -> 7000 unconfirmed: |7000 - 10000| / 10000 = 30 % > 20 %: confirm, not execute;
        # the next reading (9990) is normal again.
        state, decisions = run(["10000.00", "7000.00", "9990.00"])

        assert events(decisions) == [(), (E.CONFIRM,), ()]
        assert decisions[1].state is decisions[0].state
        assert (state.status, state.episode) == (GuardStatus.ARMED, 0)

    def test_a_confirmed_jump_counts(self) -> None:
        first = evaluate(GuardState(), read("10000.00", 0), BASE, at(0), deals=[])

        bad = evaluate(first.state, read("7000.00", 1), BASE, at(1), deals=[])
        confirmed = evaluate(first.state, read("7000.00", 1, confirmed=True), BASE, at(1), deals=[])

        assert bad.events == (E.CONFIRM,)
        assert confirmed.events == (E.WARNING, E.EXECUTE) and confirmed.drawdown_pct == D("30.0000")

    def test_a_jump_up_does_not_raise_the_peak(self) -> None:
        state, decisions = run(["10000.00", "14000.00"])  # +40 %, unconfirmed

        assert decisions[1].events == (E.CONFIRM,) and state.peak_equity == D("10000.00")

    @pytest.mark.parametrize(("age_s", "stale"), [(120, False), (121, True)])
    def test_a_stale_reading_asks_for_confirmation(self, age_s: int, stale: bool) -> None:
        first = evaluate(GuardState(), read("10000.00", 0), BASE, at(0), deals=[])

        late = evaluate(first.state, read("9990.00", 1), BASE, at(1) + timedelta(seconds=age_s), deals=[])

        assert (late.events == (E.CONFIRM,)) is stale

    def test_a_reading_older_than_the_last_is_ignored(self) -> None:
        state, _ = run(["10000.00", "9990.00"])

        older = evaluate(state, read("8000.00", 0, confirmed=True), BASE, at(2), deals=[])

        assert older.events == (E.OUT_OF_ORDER,) and older.state is state


class TestLatch:
    TRIPPED = run(["10000.00", "8900.00"])[0]  # 11 %: warning and execution at once

    def test_a_tripped_account_stays_tripped(self) -> None:
        # deeper (15 %), then back to the peak: no second execution, no re-arm
        state = self.TRIPPED
        for i, equity in enumerate(["8500.00", "9400.00", "10000.00"], start=2):
            decision = evaluate(state, read(equity, i, confirmed=True), BASE, at(i), deals=[])
            assert decision.events == ()
            state = decision.state

        assert (state.status, state.episode) == (GuardStatus.TRIPPED, 1)

    def test_reset_on_reset_restarts_the_peak(self) -> None:
        state = reset(
            self.TRIPPED, at(3), policy_for(BASE, {"peak_reset": "on_reset"}), D("8900.00"), keep_peak=True
        )  # on_reset re-bases even a reset asked to keep the peak

        after = evaluate(state, read("8900.00", 4), BASE, at(4), deals=[])

        assert (state.status, state.peak_equity, state.episode, state.reset_at) == (
            GuardStatus.ARMED,
            D("8900.00"),
            1,
            at(3),
        )
        assert after.events == () and after.drawdown_pct == D("0.0000")

    def test_reset_with_peak_never_trips_again_while_below_the_level(self) -> None:
        state = reset(self.TRIPPED, at(3), BASE, D("8900.00"), keep_peak=True)  # the peak stays 10000: 11 % below

        after = evaluate(state, read("8900.00", 4), BASE, at(4), deals=[])

        assert after.events == (E.WARNING, E.EXECUTE) and after.state.episode == 2

    def test_a_reset_re_bases_the_peak_by_default(self) -> None:
        state = reset(self.TRIPPED, at(3), BASE, D("8900.00"), keep_peak=False)

        after = evaluate(state, read("8900.00", 4), BASE, at(4), deals=[])

        assert state.peak_equity == D("8900.00") and after.events == ()


class TestShadow:
    SHADOW = policy_for(BASE, {"mode": "shadow"})

    def test_shadow_records_would_close_once_per_episode(self) -> None:
        state, decisions = run(["10000.00", "8900.00", "8800.00", "8700.00"], self.SHADOW)

        assert events(decisions) == [(), (E.WARNING, E.SHADOW_EXECUTE), (), ()]
        assert not any(d.executes for d in decisions)
        assert (state.status, state.tripped_in, state.episode) == (GuardStatus.TRIPPED, GuardMode.SHADOW, 1)

    def test_a_shadow_latch_does_not_hold_once_enforced(self) -> None:
        state, _ = run(["10000.00", "8900.00"], self.SHADOW)

        enforced = evaluate(state, read("8900.00", 2), BASE, at(2), deals=[])

        assert enforced.events == (E.REARMED, E.WARNING, E.EXECUTE)
        assert (enforced.state.tripped_in, enforced.state.episode) == (GuardMode.ENFORCE, 2)

    def test_an_enforced_latch_holds_in_shadow_mode(self) -> None:
        state, _ = run(["10000.00", "8900.00"])

        assert evaluate(state, read("8800.00", 2), self.SHADOW, at(2), deals=[]).events == ()


DAILY = policy_for(BASE, {"daily_loss_pct": 5, "execution_pct": 50, "warning_pct": 40, "equity_jump_pct": 60})
BOUNDARY = datetime(2026, 1, 13, 22, tzinfo=UTC)  # 17:00 New York: trading day 01-14 starts
YESTERDAY = GuardState(
    trading_day=BOUNDARY.date(),
    peak_equity=D("10000.00"),
    last_equity=D("10000.00"),
    last_sync_at=BOUNDARY - timedelta(seconds=30),
)


def day_read(equity: str, seconds: int, balance: str | None = None) -> GuardReading:
    return GuardReading(5001, D(equity), D(balance or equity), BOUNDARY + timedelta(seconds=seconds))


def balance_deal(ticket: int, seconds: int, amount: str, type_: int = c.DEAL_TYPE_BALANCE) -> DayDeal:
    return DayDeal(ticket, type_, BOUNDARY + timedelta(seconds=seconds), D(amount))


class TestDailyLoss:
    def day(
        self,
        readings: list[tuple[GuardReading, list[DayDeal]]],
        policy: GuardPolicy = DAILY,
        state: GuardState = YESTERDAY,
    ) -> list[GuardDecision]:
        out = []
        for reading, deals in readings:
            out.append(evaluate(state, reading, policy, reading.at, deals=deals))
            state = out[-1].state
        return out

    def test_the_first_reading_after_the_boundary_anchors_the_day(self) -> None:
        (first,) = self.day([(day_read("10000.00", 30), [])])

        assert first.events == (E.ANCHORED,)
        assert first.state.anchor == DayAnchor(
            BOUNDARY.date() + timedelta(days=1), DayBasis.BALANCE, D("10000.00"), BOUNDARY + timedelta(seconds=30)
        )

    def test_a_deposit_moves_the_anchor_and_is_no_profit(self) -> None:
        deposit = balance_deal(101, 1800, "5000.00")
        decisions = self.day(
            [
                (day_read("10000.00", 30), []),
                (day_read("15000.00", 1830), [deposit]),  # anchor 10000 + 5000 = 15000: day loss 0
                (day_read("14300.00", 1860), [deposit]),  # (15000 - 14300) / 15000 * 100 = 4.6667
                (day_read("14250.00", 1890), [deposit]),  # (15000 - 14250) / 15000 * 100 = 5.0000: execution
            ]
        )

        assert events(decisions) == [(E.ANCHORED,), (E.ANCHOR_MOVED,), (), (E.EXECUTE,)]
        assert [d.day_loss_pct for d in decisions] == [D("0.0000"), D("0.0000"), D("4.6667"), D("5.0000")]
        assert decisions[-1].reasons == (TripReason.DAILY_LOSS,)
        # and the peak moved with it: (15000 - 14250) / 15000 * 100 = 5 % drawdown, not -42.5 %
        assert decisions[-1].drawdown_pct == D("5.0000")

    def test_a_withdrawal_is_no_loss_and_no_drawdown(self) -> None:
        withdrawal = balance_deal(102, 1800, "-3000.00")
        decisions = self.day([(day_read("10000.00", 30), []), (day_read("7000.00", 1830), [withdrawal])])

        # anchor 10000 - 3000 = 7000, peak 10000 - 3000 = 7000: both 0 %, and no confirm
        assert events(decisions) == [(E.ANCHORED,), (E.ANCHOR_MOVED,)]
        assert (decisions[-1].day_loss_pct, decisions[-1].drawdown_pct) == (D("0.0000"), D("0.0000"))

    def test_a_credit_moves_the_anchor(self) -> None:
        credit = balance_deal(103, 1800, "1000.00", c.DEAL_TYPE_CREDIT)
        # the credit adds to equity, not balance: anchor 10000 + 1000 = 11000;
        # (11000 - 10500) / 11000 * 100 = 4.5455 %
        decisions = self.day([(day_read("10000.00", 30), []), (day_read("10500.00", 1830, "9500.00"), [credit])])

        assert decisions[-1].state.anchor is not None
        assert decisions[-1].state.anchor.anchor_value_now() == D("11000.00")
        assert decisions[-1].day_loss_pct == D("4.5455")

    def test_a_restart_after_the_boundary_rebuilds_a_balance_anchor_from_the_deals(self) -> None:
        # down from 16:59:30 to 18:00 New York: the first reading is an hour after the boundary.
        trade = DayDeal(201, c.DEAL_TYPE_SELL, BOUNDARY + timedelta(minutes=20), D("-400.00"), D("-4.00"))
        (late,) = self.day([(day_read("9300.00", 3600, "9596.00"), [trade])])

        # balance at start = 9596.00 - (-400.00 - 4.00) = 10000.00; (10000 - 9300) / 10000 = 7 %: execution
        assert late.events == (E.ANCHORED, E.EXECUTE)
        assert late.state.anchor is not None and late.state.anchor.source is AnchorSource.DEALS
        assert (late.state.anchor.value, late.day_loss_pct) == (D("10000.00"), D("7.0000"))

    @pytest.mark.parametrize("basis", ["equity", "max"])
    def test_a_restart_after_the_boundary_with_an_equity_basis_is_day_start_unknown(self, basis: str) -> None:
        policy = policy_for(DAILY, {"daily_basis": basis})
        decisions = self.day([(day_read("9300.00", 3600, "9596.00"), []), (day_read("9000.00", 3630), [])], policy)

        # never guessed: no anchor, no day loss, the drawdown rule only (10 % of 40/50: nothing), alerted once
        assert events(decisions) == [(E.DAY_START_UNKNOWN,), ()]
        assert all(d.state.anchor is None and d.day_loss_pct is None for d in decisions)

    def test_no_anchor_is_kept_without_a_daily_limit(self) -> None:
        (first,) = self.day([(day_read("10000.00", 30), [])], policy_for(DAILY, {"daily_loss_pct": None}))

        assert (first.events, first.state.anchor, first.day_loss_pct) == ((), None, None)

    def test_peak_reset_daily_restarts_the_peak_at_the_new_day(self) -> None:
        policy = policy_for(DAILY, {"peak_reset": "daily"})
        state = replace(YESTERDAY, peak_equity=D("12000.00"))

        (first,) = self.day([(day_read("10000.00", 30), [])], policy, state)

        assert (first.state.peak_equity, first.drawdown_pct) == (D("10000.00"), D("0.0000"))


class TestStateJson:
    def test_the_state_goes_to_json_and_back(self) -> None:
        state, _ = run(["10000.00", "8900.00"])
        anchor = DayAnchor(
            BOUNDARY.date(), DayBasis.MAX, D("10000.00"), BOUNDARY, D("-250.50"), frozenset({3, 1}), AnchorSource.DEALS
        )
        state = replace(state, anchor=anchor)

        data: dict[str, Any] = state_as_dict(state)

        assert data["anchor"]["applied"] == [1, 3] and data["peak_equity"] == "10000.00"
        assert state_from_dict(data) == state
        assert state_from_dict(state_as_dict(GuardState())) == GuardState()
