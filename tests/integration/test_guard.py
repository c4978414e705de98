"""The drawdown guard after each sync, on the simulated broker: warn, latch, close every
position in scope exactly once through the close-intent outbox, and handle each answer.

Figures by hand: peak 10000.00 (the first sync). Equity 9400.00: drawdown =
(10000 - 9400) / 10000 * 100 = 6.0000 % >= warning 5 %. Equity 8900.00: (10000 - 8900) /
10000 * 100 = 11.0000 % >= execution 10 %: the account latches (episode 1) and closes."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from core.mt5 import constants as c
from core.mt5.guard_policy import GuardMode, GuardPolicy
from db.models import AuditEvent
from db.mt5.guard_models import CloseIntent, DrawdownAlert, GuardStateRow, Notification
from tasks.mt5.ports import configure
from tests.mt5 import Mt5World, account, position, world  # noqa: F401 - fixture

POLICY = GuardPolicy(
    warning_pct=Decimal("5"), execution_pct=Decimal("10"), equity_jump_pct=Decimal("50"), max_sync_age_s=3600
)
EQUITY = [10000.0, 9400.0, 8900.0, 8900.0]


def guarded(world: Mt5World, policy: GuardPolicy = POLICY, **more: Any) -> None:
    world.add(
        account(
            5001,
            equity=EQUITY,
            positions=[position(88812), position(88813, type=c.POSITION_TYPE_SELL, price_open=1.087)],
            **more,
        )
    )
    world.start()
    world.mt5 = replace(world.mt5, guard_policy=policy)
    world.configure()


def orders(world: Mt5World, ticket: int) -> list[dict[str, Any]]:
    return [o for o in world.gateways["t1"].journal if o["request"]["position"] == ticket]


def filled(world: Mt5World, ticket: int) -> int:
    return sum(1 for o in orders(world, ticket) if o["filled"])


def intents(world: Mt5World) -> dict[int, tuple[str, str, int]]:
    r = CloseIntent
    return {t: (k, s, a) for t, k, s, a in world.rows(select(r.ticket, r.idempotency_key, r.status, r.attempts))}


def alerts(world: Mt5World) -> list[tuple[str, str, int, Decimal | None]]:
    a = DrawdownAlert
    return [
        tuple(r) for r in world.rows(select(a.alert_type, a.action, a.positions_closed, a.current_pct).order_by(a.id))
    ]  # type: ignore[misc]


class TestBreach:
    def test_warning_then_execution_closes_each_position_once(self, world: Mt5World) -> None:
        guarded(world)
        for _ in range(4):
            world.sync()
        assert alerts(world) == [
            ("warning", "warning_sent", 0, Decimal("6.0000")),
            ("execution", "positions_closed", 2, Decimal("11.0000")),
        ]
        assert intents(world) == {
            88812: ("CLOSE:5001:88812:ep1", "confirmed", 1),
            88813: ("CLOSE:5001:88813:ep1", "confirmed", 1),
        }
        assert filled(world, 88812) == filled(world, 88813) == 1  # the fourth sync sends nothing more
        request = orders(world, 88812)[0]["request"]
        # closing a buy: a sell at the bid, with its ticket, the intent key as comment, a filling it allows
        assert (request["type"], request["position"], request["comment"], request["action"]) == (
            c.ORDER_TYPE_SELL,
            88812,
            "CLOSE:5001:88812:ep1",
            c.TRADE_ACTION_DEAL,
        )
        assert orders(world, 88813)[0]["request"]["type"] == c.ORDER_TYPE_BUY
        state = world.rows(select(GuardStateRow.status, GuardStateRow.episode))[0]
        assert tuple(state) == ("tripped", 1)
        events = {e for (e,) in world.rows(select(AuditEvent.event_type))}
        assert {"close_intent_created", "close_order_sent", "close_answer_recorded", "guard_state_changed"} <= events
        kinds = [k for (k,) in world.rows(select(Notification.kind).order_by(Notification.id))]
        assert kinds == ["warning", "execution"]

    def test_shadow_mode_sends_nothing_and_records_would_close(self, world: Mt5World) -> None:
        guarded(world, POLICY.model_copy(update={"mode": GuardMode.SHADOW}))
        for _ in range(3):
            world.sync()
        assert orders(world, 88812) == orders(world, 88813) == []
        assert [(k, a) for k, a, *_ in alerts(world)] == [("warning", "warning_sent"), ("execution", "would_close")]
        assert {s for _, s, _ in intents(world).values()} == {"pending"}

    def test_no_breach_no_close(self, world: Mt5World) -> None:
        world.add(account(5001, equity=[10000.0, 9700.0], positions=[position(88812)]))  # 3 %: below warning
        world.start()
        world.mt5 = replace(world.mt5, guard_policy=POLICY)
        world.configure()
        world.sync(), world.sync()
        assert alerts(world) == [] and intents(world) == {}


class TestAnswers:
    @pytest.mark.parametrize(
        ("answers", "status", "filled_count", "sent", "syncs"),
        [
            (["requote", "price_changed", "done"], "confirmed", 1, 3, 3),  # a fresh tick and again
            (["connection", "too_many_requests", "done"], "confirmed", 1, 3, 3),  # back off and again
            (["timeout_but_fill"], "confirmed", 1, 1, 3),  # unknown: resolved from the deals, never sent again
            (["none_but_fill"], "confirmed", 1, 1, 3),
            (["position_closed"], "confirmed", 0, 1, 3),
            (["invalid_fill", "done"], "confirmed", 1, 2, 3),  # the next filling mode the symbol allows
            (["market_closed"], "waiting_market", 0, 1, 3),  # stays pending, alerted once
            (["market_closed"], "confirmed", 1, 2, 4),  # ... and sent again at the next sync, the market open
            (["partial"], "confirmed", 2, 2, 3),  # half filled, the remaining volume closed next
            (["fifo_close", "done"], "confirmed", 1, 2, 3),  # the older ones first, then again
            # no answer and the link lost: at the next sync the terminal is initialized again, the
            # close resolved from the deals (filled), the other position closed
            (["disconnect_after_fill"], "confirmed", 1, 1, 4),
            (["price_off", "done"], "confirmed", 1, 2, 3),
            (["locked", "done"], "confirmed", 1, 2, 3),
            (["trade_disabled"] * 5, "failed", 0, 5, 3),  # bounded, then failed with an alert
            (["no_money"] * 5, "failed", 0, 5, 3),
            ([10027] * 5, "failed", 0, 5, 3),  # CLIENT_DISABLES_AT
            (["invalid"] * 5, "failed", 0, 5, 3),
            ([10014] * 5, "failed", 0, 5, 3),  # INVALID_VOLUME
            ([10015] * 5, "failed", 0, 5, 3),  # INVALID_PRICE
            ([10016] * 5, "failed", 0, 5, 3),  # INVALID_STOPS
            (["invalid_close_volume"] * 5, "failed", 0, 5, 3),
            (["close_only"] * 5, "failed", 0, 5, 3),
        ],
    )
    def test_each_answer(
        self, world: Mt5World, answers: list[Any], status: str, filled_count: int, sent: int, syncs: int
    ) -> None:
        guarded(world, close_answers={"88812": answers})
        world.mt5 = replace(world.mt5, unknown_after=__import__("datetime").timedelta(0))
        world.configure()
        for _ in range(syncs):
            world.sync()
        assert intents(world)[88812][1] == status
        assert filled(world, 88812) == filled_count
        assert len(orders(world, 88812)) == sent
        key = "CLOSE:5001:88812:ep1"  # each order sent and each answer is an audit row
        audited = [e for e, k in world.rows(select(AuditEvent.event_type, AuditEvent.entity_id)) if k == key]
        assert audited.count("close_order_sent") == sent and audited.count("close_answer_recorded") >= sent
        assert filled(world, 88813) == 1
        if status in ("failed", "waiting_market"):  # alerted once, through the outbox
            kind = "close_failed" if status == "failed" else "market_closed"
            assert [k for (k,) in world.rows(select(Notification.kind)) if k == kind] == [kind]


def test_the_guard_metrics_count_triggers_closes_and_attempts(world: Mt5World) -> None:
    from prometheus_client import CollectorRegistry

    from workers.metrics import PrometheusGuardObserver

    registry = CollectorRegistry()
    guarded(world, close_answers={"88812": ["requote", "done"]})
    world.mt5 = replace(world.mt5, guard_observer=PrometheusGuardObserver(registry))
    world.configure()
    for _ in range(3):
        world.sync()

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert value("drawdown_guard_triggers_total", kind="warning") == 1
    assert value("drawdown_guard_triggers_total", kind="execution") == 1
    assert value("positions_autoclosed_total", reason="drawdown_guard") == 2
    assert value("close_order_attempts_total", retcode="10004") == 1  # the requote
    assert value("close_order_attempts_total", retcode="10009") == 2
    assert value("close_intents_pending") == 0


class TestLatch:
    def test_tripped_stays_tripped_until_an_audited_reset(self, world: Mt5World) -> None:
        from tasks.mt5.guard_admin import ResetRefused, guard_reset, guard_status

        guarded(world)
        for _ in range(5):  # trips at the third sync; the fourth and fifth change nothing
            world.sync()
        assert [k for k, *_ in alerts(world)] == ["warning", "execution"]
        view = next(v for v in guard_status() if v.account.login == 5001)
        # peak 10000.00, last equity 8900.00: (10000 - 8900) / 10000 * 100 = 11.0000 %
        assert (view.status, view.episode, view.drawdown_pct, view.pending_intents) == (
            "tripped",
            1,
            Decimal("11.0000"),
            0,
        )
        with pytest.raises(ResetRefused, match="names who resets"):
            guard_reset(5001, " ", "x")
        with pytest.raises(ResetRefused, match="no MT5 account with login 999"):
            guard_reset(999, "ops", "x")

        after = guard_reset(5001, "alice", "positions flat, limit reviewed")

        assert (after.status, after.episode) == ("armed", 1)
        audit = world.rows(select(AuditEvent.actor, AuditEvent.details).where(AuditEvent.event_type == "guard_reset"))
        assert [(a, d["reason"], d["episode"]) for a, d in audit] == [("alice", "positions flat, limit reviewed", 1)]
        with pytest.raises(ResetRefused, match="is not tripped"):
            guard_reset(5001, "alice", "again")


class TestNamedPolicy:
    def test_an_account_follows_its_named_override(self, world: Mt5World) -> None:
        """Policy `tight`: execution at 6 %; 10000.00 -> 9400.00 is (10000 - 9400) / 10000 * 100
        = 6 %: executed, where the defaults (10 %) only warn."""
        world.add(account(5001, equity=[10000.0, 9400.0], positions=[position(88812)]))
        with world.runtime.uow() as uow:
            from db.mt5.models import Mt5Account

            uow.session.execute(Mt5Account.__table__.update().values(policy="tight"))
            uow.commit()
        world.start()
        configure(
            replace(
                world.mt5, guard_policy=POLICY, guard_policies={"tight": {"execution_pct": "6", "warning_pct": "3"}}
            )
        )
        world.sync(), world.sync()
        assert intents(world)[88812][1] == "confirmed"


class TestEpisodes:
    def test_confirm_syncs_two_one_breach_then_recovery_executes_nothing(self, world: Mt5World) -> None:
        """8900.00 is 11 % once, then 9600.00 is 4 %: with confirm_syncs 2 no execution;
        two breaches in a row (8900, 8800: 11 %, 12 %) execute."""
        world.add(account(5001, equity=[10000.0, 8900.0, 9600.0, 8900.0, 8800.0], positions=[position(88812)]))
        world.start()
        configure(replace(world.mt5, guard_policy=POLICY.model_copy(update={"confirm_syncs": 2})))
        for _ in range(3):
            world.sync()
        assert intents(world) == {}
        world.sync(), world.sync()
        assert intents(world)[88812][1] == "confirmed"

    def test_a_warning_rearms_below_warning_minus_hysteresis(self, world: Mt5World) -> None:
        """Warning 5 %, hysteresis 1 %: 9400.00 (6 %) warns; 9450.00 (5.5 %) and 9550.00 (4.5 %)
        do not re-arm; 9350.00 warns no more; 9350 -> 9650.00 (3.5 % < 4 %) re-arms; 9400.00 warns again."""
        world.add(
            account(5001, equity=[10000.0, 9400.0, 9450.0, 9550.0, 9350.0, 9650.0, 9400.0], positions=[position(88812)])
        )
        world.start()
        configure(replace(world.mt5, guard_policy=POLICY))
        for _ in range(7):
            world.sync()
        assert [k for k, *_ in alerts(world)] == ["warning", "warning"]
        assert [n for (n,) in world.rows(select(Notification.kind))] == ["warning", "warning"]


class TestConfirmation:
    def test_a_jump_is_confirmed_by_a_fresh_account_info_before_closing(self, world: Mt5World) -> None:
        """10000.00 -> 8900.00 is a move of 11 % > equity_jump_pct 5: one more account_info
        before the decision counts (here it confirms, and the account is closed)."""
        guarded(world, POLICY.model_copy(update={"equity_jump_pct": Decimal("5")}))
        world.scenario["accounts"][0]["equity"] = [10000.0, 8900.0]
        world.start()
        configure(replace(world.mt5, guard_policy=POLICY.model_copy(update={"equity_jump_pct": Decimal("5")})))
        world.sync()
        world.gateways["t1"].calls.clear()
        world.sync()
        assert world.gateways["t1"].calls.count("account_info") == 2  # the sync's and the confirmation
        assert {s for _, s, _ in intents(world).values()} == {"confirmed"}

    def test_a_small_move_needs_no_confirmation(self, world: Mt5World) -> None:
        guarded(world)  # equity_jump_pct 50: 10000.00 -> 9400.00 is 6 %
        world.sync()
        world.gateways["t1"].calls.clear()
        world.sync()
        assert world.gateways["t1"].calls.count("account_info") == 1


class RecordingNotifier:
    """What the notifier was given, in order (the outbox delivers through it)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    def notify(self, kind: str, message: str, details: dict[str, object]) -> None:
        self.sent.append((kind, str(details.get("key")), message))


def execution_alerts(world: Mt5World) -> list[tuple[str, str, int]]:
    a = DrawdownAlert
    return [
        tuple(r)
        for r in world.rows(
            select(a.idempotency_key, a.action, a.positions_closed)  # type: ignore[misc]
            .where(a.alert_type == "execution")
            .order_by(a.id)
        )
    ]


def conflicts(world: Mt5World) -> list[tuple[str, str]]:
    from db.models import IdempotencyConflict

    return [
        tuple(r)
        for r in world.rows(
            select(
                IdempotencyConflict.table_name,  # type: ignore[misc]
                IdempotencyConflict.idempotency_key,
            )
        )
    ]


def notified(world: Mt5World, notifier: RecordingNotifier) -> None:
    """Every notification row delivered, each exactly once to the notifier."""
    n = Notification
    stored = world.rows(select(n.kind, n.message, n.status, n.attempts).order_by(n.id))
    assert [(s, a) for _, _, s, a in stored] == [("delivered", 1)] * len(stored)
    assert [(kind, message) for kind, _, message in notifier.sent] == [(k, m) for k, m, _, _ in stored]


class TestExecutionAlerts:
    """One alert per outcome of an episode's execution, each told once: while closes go on
    (`partially_closed`), then how it ended (`positions_closed`, `failed`); no later sync
    writes another version of one (it would be an idempotency conflict)."""

    def notifying(self, world: Mt5World, policy: GuardPolicy = POLICY, **answers: list[Any]) -> RecordingNotifier:
        guarded(world, policy, close_answers=answers)
        notifier = RecordingNotifier()
        world.mt5 = replace(world.mt5, notifier=notifier)
        world.configure()
        return notifier

    def test_partly_closed_then_all_closed_is_two_alerts(self, world: Mt5World) -> None:
        """88812's market is closed at the execution (sync 3): 1 of 2 closed; at sync 4 the
        market is open and 88812 closes: 2 of 2. Syncs 5 and 6 tell nothing new."""
        notifier = self.notifying(world, **{"88812": ["market_closed"]})
        for _ in range(6):
            world.sync()
        assert execution_alerts(world) == [
            ("DDALERT:5001:execution:ep1:partially_closed", "partially_closed", 1),
            ("DDALERT:5001:execution:ep1:positions_closed", "positions_closed", 2),
        ]
        assert conflicts(world) == []
        assert intents(world)[88812][1] == intents(world)[88813][1] == "confirmed"
        notified(world, notifier)
        told = [(kind, key) for kind, key, _ in notifier.sent]
        assert told == [
            ("warning", "DDALERT:5001:warning:s2"),
            ("market_closed", "CLOSE:5001:88812:ep1"),
            ("execution", "DDALERT:5001:execution:ep1:partially_closed"),
            ("execution", "DDALERT:5001:execution:ep1:positions_closed"),
        ]
        messages = [m for kind, _, m in notifier.sent if kind == "execution"]
        assert messages == [
            "MT5 5001: drawdown guard closed 1 of 2 position(s) (episode 1): 1 still open, closing goes on",
            "MT5 5001: drawdown guard closed 2 of 2 position(s) (episode 1)",
        ]

    def test_closed_at_once_is_one_alert(self, world: Mt5World) -> None:
        notifier = self.notifying(world)
        for _ in range(5):
            world.sync()
        assert execution_alerts(world) == [("DDALERT:5001:execution:ep1:positions_closed", "positions_closed", 2)]
        assert conflicts(world) == []
        notified(world, notifier)

    def test_a_close_given_up_ends_failed(self, world: Mt5World) -> None:
        """max_attempts 1: 88812 waits for its market at sync 3, then trade_disabled at
        sync 4 fails it for good: 1 of 2 closed, 1 failed."""
        policy = POLICY.model_copy(update={"max_attempts": 1})
        notifier = self.notifying(world, policy, **{"88812": ["market_closed", "trade_disabled"]})
        for _ in range(5):
            world.sync()
        assert intents(world)[88812][1] == "failed"
        assert execution_alerts(world) == [
            ("DDALERT:5001:execution:ep1:partially_closed", "partially_closed", 1),
            ("DDALERT:5001:execution:ep1:failed", "failed", 1),
        ]
        assert conflicts(world) == []
        notified(world, notifier)
        assert notifier.sent[-1][2] == (
            "MT5 5001: drawdown guard closed 1 of 2 position(s) (episode 1): 1 failed, "
            "a person is needed at the terminal"
        )

    def test_an_outcome_its_closer_did_not_tell_is_told_at_the_next_sync(self, world: Mt5World) -> None:
        """The process that records the last close dies before its alert (the fault point
        `before_execution_alert`, raised once at sync 4): sync 5 writes the final alert."""
        notifier = self.notifying(world, **{"88812": ["market_closed"]})
        for _ in range(3):
            world.sync()
        died: list[str] = []

        def die_once(point: str) -> None:
            if point == "before_execution_alert" and not died:
                died.append(point)
                raise RuntimeError("killed before the execution alert")

        configure(replace(world.mt5, fault=die_once))
        with pytest.raises(RuntimeError, match="killed before the execution alert"):
            world.sync()
        assert intents(world)[88812][1] == "confirmed"
        assert [k for k, _, _ in execution_alerts(world)] == ["DDALERT:5001:execution:ep1:partially_closed"]
        world.sync(), world.sync()
        assert execution_alerts(world) == [
            ("DDALERT:5001:execution:ep1:partially_closed", "partially_closed", 1),
            ("DDALERT:5001:execution:ep1:positions_closed", "positions_closed", 2),
        ]
        assert conflicts(world) == []
        notified(world, notifier)
