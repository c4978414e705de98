"""The latch holds (issue 19): while an account is tripped, every sync closes each position
in scope found open without an intent of the episode and deletes each pending order in
scope, each once, through the close-intent outbox, each alerted once; on SQLite and
PostgreSQL, with every terminal call checked to happen outside any transaction (the
`world` fixture's TransactionFreeGateway).

Figures: peak 10000.00 at the first sync; 8900.00 from the second: (10000 - 8900) / 10000
* 100 = 11 % >= 10 %: the account trips at sync 2 (step 1) and 88812 is closed. The trader
then opens 88820 and 88821 and places the pending order 88830 (step 2, sync 3), opens 88822
and places 88831 (step 3, sync 4); sync 5 finds nothing new."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from core.mt5 import constants as c
from core.mt5.guard_policy import GuardMode, GuardPolicy
from db.models import AuditEvent
from db.mt5.guard_models import CloseIntent, DrawdownAlert, Notification
from tests.mt5 import PASSWORD, Mt5World, account, pending, position, world  # noqa: F401 - fixture

POLICY = GuardPolicy(
    warning_pct=Decimal("5"), execution_pct=Decimal("10"), equity_jump_pct=Decimal("50"), max_sync_age_s=3600
)
OPENED = {88820: 2, 88821: 2, 88822: 3}  # ticket: the step the trader opens it at
PLACED = {88830: 2, 88831: 3}


def latched_world(world: Mt5World, policy: GuardPolicy = POLICY, **more: Any) -> None:
    positions = [position(88812), *(position(t, from_step=s) for t, s in OPENED.items())]
    orders = [pending(t, from_step=s) for t, s in PLACED.items()]
    world.add(account(5001, equity=[10000.0, 8900.0], positions=positions, orders=orders, **more))
    world.start()
    world.mt5 = replace(world.mt5, guard_policy=policy)
    world.configure()


def sent(world: Mt5World) -> Counter[int]:
    """order_send requests per ticket (a close names its position, a removal its order)."""
    journal = world.gateways["t1"].journal
    return Counter(o["request"]["position"] or o["request"]["order"] for o in journal)


def intents(world: Mt5World) -> dict[int, tuple[str, str, str]]:
    r = CloseIntent
    return {t: (k, kind, s) for t, k, kind, s in world.rows(select(r.ticket, r.idempotency_key, r.kind, r.status))}


def alert_keys(world: Mt5World) -> list[tuple[str, str]]:
    return [(k, a) for k, a in world.rows(select(DrawdownAlert.idempotency_key, DrawdownAlert.action))]


def test_positions_opened_and_orders_placed_while_tripped_are_closed_and_deleted_once(world: Mt5World) -> None:
    latched_world(world)
    for _ in range(5):
        world.sync()

    journal = world.gateways["t1"].journal
    assert sent(world) == {t: 1 for t in (88812, *OPENED, *PLACED)}  # nothing sent twice
    assert all(o["filled"] for o in journal)
    removals = [o["request"] for o in journal if o["request"]["action"] == c.TRADE_ACTION_REMOVE]
    assert [(r["order"], r["comment"]) for r in removals] == [
        (88830, "REMOVE:5001:88830:ep1"),
        (88831, "REMOVE:5001:88831:ep1"),
    ]
    assert world.gateways["t1"].positions_get() == () and world.gateways["t1"].orders_get() == ()
    assert intents(world) == {
        88812: ("CLOSE:5001:88812:ep1", "execution", "confirmed"),
        88820: ("CLOSE:5001:88820:ep1", "reopened", "confirmed"),
        88821: ("CLOSE:5001:88821:ep1", "reopened", "confirmed"),
        88822: ("CLOSE:5001:88822:ep1", "reopened", "confirmed"),
        88830: ("REMOVE:5001:88830:ep1", "pending_order", "confirmed"),
        88831: ("REMOVE:5001:88831:ep1", "pending_order", "confirmed"),
    }
    assert alert_keys(world) == [
        ("DDALERT:5001:warning:s2", "warning_sent"),
        ("DDALERT:5001:execution:ep1:positions_closed", "positions_closed"),
        ("DDALERT:5001:reopened:ep1:88820", "close"),
        ("DDALERT:5001:reopened:ep1:88821", "close"),
        ("DDALERT:5001:pending_order:ep1:88830", "delete"),
        ("DDALERT:5001:reopened:ep1:88822", "close"),
        ("DDALERT:5001:pending_order:ep1:88831", "delete"),
    ]
    kinds = Counter(k for (k,) in world.rows(select(Notification.kind)))
    assert kinds == {"warning": 1, "execution": 1, "reopened": 3, "pending_order": 2}
    audited = [
        (d["key"], d["kind"])
        for e, d in world.rows(select(AuditEvent.event_type, AuditEvent.details))
        if e == "close_intent_created"
    ]
    assert sorted(audited) == sorted((k, kind) for k, kind, _ in intents(world).values())
    message = world.rows(select(Notification.message).where(Notification.idempotency_key.like("%88831")))[0][0]
    assert message == (
        "MT5 5001: pending order 88831 (EURUSD) found while the drawdown guard is tripped (episode 1): deleting it"
    )


def test_out_of_scope_positions_and_orders_are_left_alone(world: Mt5World) -> None:
    """Scope: magic 7. A position and an order of magic 99 opened while tripped stay."""
    positions = [position(88812), position(88820, from_step=2), position(88840, magic=99, from_step=2)]
    orders = [pending(88830, from_step=2), pending(88841, magic=99, from_step=2)]
    world.add(account(5001, equity=[10000.0, 8900.0], positions=positions, orders=orders), magic=(7, 99))
    world.start()
    world.mt5 = replace(world.mt5, guard_policy=POLICY.model_copy(update={"scope_magics": frozenset({7})}))
    world.configure()
    for _ in range(4):
        world.sync()
    assert sent(world) == {88812: 1, 88820: 1, 88830: 1}
    assert [p.ticket for p in world.gateways["t1"].positions_get() or ()] == [88840]
    assert [o.ticket for o in world.gateways["t1"].orders_get() or ()] == [88841]


def test_shadow_mode_records_what_it_would_close_and_delete(world: Mt5World) -> None:
    latched_world(world, POLICY.model_copy(update={"mode": GuardMode.SHADOW}))
    for _ in range(5):
        world.sync()
    assert sent(world) == {}
    assert {t: (kind, s) for t, (_, kind, s) in intents(world).items()} == {
        88812: ("execution", "pending"),
        **{t: ("reopened", "pending") for t in OPENED},
        **{t: ("pending_order", "pending") for t in PLACED},
    }
    assert sorted(alert_keys(world)) == sorted(
        [
            ("DDALERT:5001:warning:s2", "warning_sent"),
            ("DDALERT:5001:execution:ep1:would_close", "would_close"),
            *((f"DDALERT:5001:reopened:ep1:{t}", "would_close") for t in OPENED),
            *((f"DDALERT:5001:pending_order:ep1:{t}", "would_delete") for t in PLACED),
        ]
    )


def test_a_refused_removal_is_retried_and_an_order_gone_meanwhile_is_done(world: Mt5World) -> None:
    """88830's removal is refused once (requote): it is looked up again and sent again."""
    positions = [position(88812)]
    orders = [pending(88830, from_step=2)]
    world.add(
        account(
            5001, equity=[10000.0, 8900.0], positions=positions, orders=orders, close_answers={"88830": ["requote"]}
        )
    )
    world.start()
    world.mt5 = replace(world.mt5, guard_policy=POLICY)
    world.configure()
    for _ in range(4):
        world.sync()
    assert [o["result"]["retcode"] for o in world.gateways["t1"].journal if o["request"]["order"] == 88830] == [
        c.TRADE_RETCODE_REQUOTE,
        c.TRADE_RETCODE_DONE,
    ]
    assert intents(world)[88830][2] == "confirmed"
    assert world.gateways["t1"].orders_get() == ()


def test_the_watch_refuses_a_terminal_call_inside_a_transaction(world: Mt5World) -> None:
    """The check every test of the `world` fixture runs under can fail."""
    world.add(account(5001, positions=[position(88812)]))
    world.start()
    gateway = world.mt5.gateways("t1")
    assert gateway.initialize() and gateway.login(5001, password=PASSWORD, server="Sim-Demo")
    with world.runtime.uow() as uow:
        uow.session.execute(select(CloseIntent.id))
        with pytest.raises(AssertionError, match="terminal call positions_get while 1 database transaction"):
            gateway.positions_get()
    assert gateway.positions_get() is not None  # the unit of work ended: allowed
    world.watch.violations.clear()


class CountingThrottle:
    """An order throttle that lets everything go and counts what asked it."""

    def __init__(self) -> None:
        self.waits = 0

    def wait(self) -> None:
        self.waits += 1


def test_every_order_waits_for_its_terminals_throttle(world: Mt5World) -> None:
    latched_world(world)
    throttle, asked = CountingThrottle(), []

    def throttle_of(terminal: str) -> CountingThrottle:
        asked.append(terminal)
        return throttle

    world.mt5 = replace(world.mt5, order_throttle=throttle_of)
    world.configure()
    for _ in range(5):
        world.sync()
    assert throttle.waits == len(world.gateways["t1"].journal) == 6
    assert set(asked) == {"t1"}
