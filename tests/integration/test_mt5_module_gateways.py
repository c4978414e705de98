"""The real-module adapters, driven through a sync by a fake MetaTrader5 module (the real
one is Windows-only) installed into sys.modules: adapter (a) MetaTrader5Gateway, and
adapter (b) Mt5LinuxGateway over a fake mt5linux client. Both on SQLite and PostgreSQL."""

from __future__ import annotations

import sys
import types
from dataclasses import replace
from decimal import Decimal as D

import pytest

from core.mt5 import constants as c
from core.mt5.accounts import AccountSpec
from core.mt5.gateway import GatewayUnavailable
from core.mt5.types import TradeOrder
from db.mt5.accounts import add_account
from tasks.mt5.ports import Mt5Ports
from tests import fake_metatrader5 as fake
from tests.mt5 import Mt5World, expected, world  # noqa: F401 - fixture
from workers.adapters.mt5.credentials import EnvOrFileCredentials
from workers.adapters.mt5.metatrader5 import MetaTrader5Gateway
from workers.adapters.mt5.mt5linux import Mt5LinuxGateway


def terminal() -> fake.Terminal:
    # 7001 (hedging, EUR): 1101 as expected; 1102 closed by its take profit; 1103 nobody expects
    return fake.Terminal(
        positions=[fake.position(1101, 0.1, 1.085, 11.0), fake.position(1103, 0.2, 1.0855, 12.0, type=1)],
        deals=[fake.deal(9102, 1102, c.DEAL_REASON_TP, 1.09, 45.0)],
    )


def prepared(world: Mt5World, gateway: object) -> None:
    with world.runtime.uow() as uow:
        add_account(
            uow.session,
            AccountSpec(
                login=7001,
                server="Fake-Live",
                terminal="t1",
                currency="EUR",
                magic_numbers=(42,),
                credential_ref="env:FAKE_PW",
            ),
            now=world.runtime.clock(),
        )
        uow.commit()
    world.expect(expected(7001, "SIG-1", ticket=1101, magic=42), expected(7001, "SIG-2", ticket=1102, magic=42))
    world.mt5 = replace(
        world.mt5,
        gateways=lambda _terminal: gateway,  # type: ignore[arg-type,return-value]
        credentials=EnvOrFileCredentials({"FAKE_PW": "fake-pass"}),
    )
    world.configure()


def assert_synced(world: Mt5World) -> None:
    # equity 19987.5 from account_info; peak = equity; positions 0.1 + 0.2 lots, profit 11 + 12
    assert world.snapshots() == [
        (
            "MT5SNAP:1:s1",
            D("19987.50"),
            D("20000.00"),
            D("19987.50"),
            D("0.00"),
            2,
            D("0.3"),
            D("23.00"),
            D("7995.00"),
            None,
        )
    ]
    assert [r[:4] for r in world.recon()] == [
        ("RECON:1:s1:t1101", "matched", "matched", 1101),
        ("RECON:1:s1:t1102", "divergence", "closed_by_sl_tp", 1102),
        ("RECON:1:s1:t1103", "divergence", "unknown_position", 1103),
    ]


def test_the_metatrader5_module_drives_a_sync(world: Mt5World, monkeypatch: pytest.MonkeyPatch) -> None:
    term = terminal()
    monkeypatch.setitem(sys.modules, "MetaTrader5", fake.build(term))
    prepared(world, MetaTrader5Gateway())

    run = world.sync()

    assert run["status"] == "succeeded"
    assert_synced(world)
    # initialize() without a path (none configured); deals asked by position only
    assert term.calls[0] == ("initialize", (), {})
    assert ("history_deals_get", (), {"position": 1102}) in term.calls


def test_a_terminal_path_is_passed_to_initialize(monkeypatch: pytest.MonkeyPatch) -> None:
    term = terminal()
    monkeypatch.setitem(sys.modules, "MetaTrader5", fake.build(term))
    gateway = MetaTrader5Gateway(r"C:\MT5\t1\terminal64.exe")

    assert gateway.initialize() is True
    assert gateway.login(7001, password="wrong", server="Fake-Live") is False
    assert gateway.last_error() == (-6, "Terminal: Authorization failed")
    assert term.calls[0] == ("initialize", (r"C:\MT5\t1\terminal64.exe",), {})


def test_without_the_package_the_gateway_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "MetaTrader5", None)  # import MetaTrader5 -> ImportError

    with pytest.raises(GatewayUnavailable, match="published for Windows only") as caught:
        MetaTrader5Gateway()
    assert caught.value.kind == "gateway_unavailable"


def test_the_mt5linux_bridge_drives_a_sync(world: Mt5World, monkeypatch: pytest.MonkeyPatch) -> None:
    fake.Bridge.module = fake.build(terminal())
    fake.Bridge.made = []
    monkeypatch.setitem(sys.modules, "mt5linux", types.SimpleNamespace(MetaTrader5=fake.Bridge))
    prepared(world, Mt5LinuxGateway("mt5-bridge.internal", 18813))

    run = world.sync()

    assert run["status"] == "succeeded"
    assert fake.Bridge.made == [("mt5-bridge.internal", 18813)]
    assert_synced(world)


def test_runtime_defaults_have_no_gateway() -> None:
    with pytest.raises(GatewayUnavailable, match="no MT5 gateway is configured for terminal t9"):
        Mt5Ports().gateways("t9")


@pytest.mark.parametrize("bridge", [False, True])
def test_orders_get_copies_the_pending_orders(bridge: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """orders_get(ticket=) through either adapter: the package's TradeOrder copied field by
    field into core.mt5.types.TradeOrder; None filters are not passed (the package refuses them)."""
    term = terminal()
    term.orders = [fake.pending_order(1201), fake.pending_order(1202, type=c.ORDER_TYPE_SELL_STOP)]
    module = fake.build(term)
    if bridge:
        fake.Bridge.module = module
        monkeypatch.setitem(sys.modules, "mt5linux", types.SimpleNamespace(MetaTrader5=fake.Bridge))
        gateway: MetaTrader5Gateway | Mt5LinuxGateway = Mt5LinuxGateway("mt5-bridge.internal", 18813)
    else:
        monkeypatch.setitem(sys.modules, "MetaTrader5", module)
        gateway = MetaTrader5Gateway()

    found = gateway.orders_get(ticket=1202)

    assert found is not None and [type(o) for o in found] == [TradeOrder]
    assert [(o.ticket, o.type, o.symbol, o.volume_current) for o in found] == [
        (1202, c.ORDER_TYPE_SELL_STOP, "EURUSD", 0.1)
    ]
    assert ("orders_get", (), {"ticket": 1202}) in term.calls
    assert [o.ticket for o in gateway.orders_get() or ()] == [1201, 1202]
