"""The gateway mirrors the MetaTrader5 package: official constant values, the named
tuples' fields in the package's order, and errors classified from last_error()."""

from __future__ import annotations

import pytest

from core.mt5 import constants as c
from core.mt5.gateway import AuthorizationFailed, IpcTimeout, Mt5Error, TerminalUnreachable, error_for
from core.mt5.types import AccountInfo, OrderSendResult, SymbolInfo, Tick, TradeDeal, TradePosition, TradeRequest


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("POSITION_TYPE_BUY", 0),
        ("POSITION_TYPE_SELL", 1),
        ("ORDER_TYPE_BUY", 0),
        ("ORDER_TYPE_SELL", 1),
        ("TRADE_ACTION_DEAL", 1),
        ("ORDER_FILLING_FOK", 0),
        ("ORDER_FILLING_IOC", 1),
        ("ORDER_FILLING_RETURN", 2),
        ("DEAL_REASON_CLIENT", 0),
        ("DEAL_REASON_MOBILE", 1),
        ("DEAL_REASON_WEB", 2),
        ("DEAL_REASON_EXPERT", 3),
        ("DEAL_REASON_SL", 4),
        ("DEAL_REASON_TP", 5),
        ("DEAL_REASON_SO", 6),
        ("TRADE_RETCODE_REQUOTE", 10004),
        ("TRADE_RETCODE_DONE", 10009),
        ("TRADE_RETCODE_PRICE_CHANGED", 10020),
        ("TRADE_RETCODE_TOO_MANY_REQUESTS", 10024),
        ("TRADE_RETCODE_CONNECTION", 10031),
        ("TRADE_RETCODE_POSITION_CLOSED", 10036),
        ("TRADE_RETCODE_FIFO_CLOSE", 10045),
        ("RES_E_AUTH_FAILED", -6),
        ("RES_E_INTERNAL_FAIL_TIMEOUT", -10005),
    ],
)
def test_official_constant_values(name: str, value: int) -> None:
    assert getattr(c, name) == value


def test_the_retcodes_run_from_10004_to_10045_without_10005_and_10037() -> None:
    assert sorted(c.TRADE_RETCODES) == [v for v in range(10004, 10046) if v not in (10005, 10037)]
    assert c.TRADE_RETCODES[10009] == "TRADE_RETCODE_DONE"


@pytest.mark.parametrize(
    ("shape", "fields"),
    [
        (
            AccountInfo,
            "login trade_mode leverage limit_orders margin_so_mode trade_allowed trade_expert margin_mode "
            "currency_digits fifo_close balance credit profit equity margin margin_free margin_level "
            "margin_so_call margin_so_so margin_initial margin_maintenance assets liabilities "
            "commission_blocked name server currency company",
        ),
        (
            TradePosition,
            "ticket time time_msc time_update time_update_msc type magic identifier reason volume "
            "price_open sl tp price_current swap profit symbol comment external_id",
        ),
        (Tick, "time bid ask last volume time_msc flags volume_real"),
        (
            TradeDeal,
            "ticket order time time_msc type entry magic position_id reason volume price commission swap "
            "profit fee symbol comment external_id",
        ),
        (
            TradeRequest,
            "action magic order symbol volume price stoplimit sl tp deviation type type_filling type_time "
            "expiration comment position position_by",
        ),
        (OrderSendResult, "retcode deal order volume price bid ask comment request_id retcode_external request"),
    ],
)
def test_named_tuples_have_the_package_fields_in_order(shape: type, fields: str) -> None:
    assert shape._fields == tuple(fields.split())  # type: ignore[attr-defined]


def test_symbol_info_has_the_96_fields_from_custom_to_path() -> None:
    fields = SymbolInfo._fields
    assert (len(fields), fields[0], fields[26], fields[53:56], fields[-1]) == (
        96,
        "custom",
        "filling_mode",
        ("volume_min", "volume_max", "volume_step"),
        "path",
    )


@pytest.mark.parametrize(
    ("last_error", "kind", "error_type"),
    [
        ((-10005, "IPC timeout"), "ipc_timeout", IpcTimeout),
        ((-6, "Terminal: Authorization failed"), "authorization_failed", AuthorizationFailed),
        ((-10003, "IPC initialize failed, MetaTrader 5 x64 not found"), "terminal_unreachable", TerminalUnreachable),
        ((-10004, "No IPC connection"), "terminal_unreachable", TerminalUnreachable),
        ((-4, "Terminal: Not found"), "call_failed", Mt5Error),
    ],
)
def test_a_failed_call_is_classified_by_last_error(last_error: tuple[int, str], kind: str, error_type: type) -> None:
    error = error_for("login", last_error)

    assert type(error) is error_type and error.kind == kind
    assert str(error) == f"login failed: {kind} ({last_error[0]}, {last_error[1]})"
