"""The reconciliation rows a sync writes: the payload is spelled canonically by the row
builder itself (db.mt5.results, without the write path's generic pass), so its text and
hash must be exactly what core.canonical makes of it; and its values are the business
values of the outcome, written out by hand below. No database: the rows are values."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from core.canonical import canonical_form, payload_sha256
from core.mt5 import constants as c
from core.mt5.reconcile import Outcome, Rules, reconcile
from core.mt5.snapshot import snapshot_figures
from core.mt5.values import (
    Account,
    AccountMode,
    AccountReading,
    ActualPosition,
    ClosingDeal,
    ExpectedPosition,
    SymbolSpec,
)
from core.values import Side
from db.mt5.results import AccountSynced, reconciliation_row

EURUSD = SymbolSpec("EURUSD", 5, D("0.00001"), D("0.01"))
ACCOUNT = Account(3, 5001, "Sim-Demo", "t1", "USD", "default", True, (7,), "env:PW", D("10000.00"))
READING = AccountReading(5001, "Sim-Demo", "USD", D("10000.00"), D("9990.00"), D("0.00"), AccountMode.HEDGING)


def exp(signal: str, ticket: int | None, *, volume: str = "0.10", sl: str | None = "1.08000") -> ExpectedPosition:
    return ExpectedPosition(
        len(signal), signal, f"APR-{signal}", "EURUSD", Side.BUY, D(volume), D("1.08500"), D(sl) if sl else None,
        None, 7, ticket,
    )  # fmt: skip


def act(ticket: int, *, volume: str = "0.100000", price_open: str = "1.085000", magic: int = 7) -> ActualPosition:
    return ActualPosition(
        ticket, "EURUSD", Side.BUY, D(volume), D(price_open), D("1.086000"), None, D("1.090000"), magic,
        D("-1.50"), D("0.00"),
    )  # fmt: skip


def outcomes(netting: bool = False) -> list[Outcome]:
    """One of each: partial fill, slippage, closed by SL, missing, paired by symbol, unknown
    (netting: the six as one net row with their signal ids, the rest unknown)."""
    expected = [
        exp("A", 1001),
        exp("B", 1002),
        exp("C", 1003, volume="0.20"),
        exp("D", 1004),
        exp("E", 1005),
        exp("F", None),
    ]
    actual = [act(1001), act(1002, price_open="1.085300"), act(1003), act(1009), act(1010)]
    sl_deal = ClosingDeal(
        9004, 1004, c.DEAL_REASON_SL, D("1.079950"), D("0.10"), D("-50.05"), datetime(2026, 1, 5, tzinfo=UTC)
    )
    return reconcile(expected, actual, {"EURUSD": EURUSD}, {1004: (sl_deal,)}, Rules(frozenset({7}), 10, netting))


def synced(found: list[Outcome]) -> AccountSynced:
    figures = snapshot_figures(READING, (), ACCOUNT.peak_equity)
    return AccountSynced(ACCOUNT, 77, datetime(2026, 1, 5, 12, tzinfo=UTC), figures, found)


class TestReconciliationRowPayload:
    @pytest.mark.parametrize("netting", [False, True])
    def test_text_and_hash_are_the_canonical_ones_of_its_payload(self, netting: bool) -> None:
        s = synced(outcomes(netting))
        rows = [reconciliation_row(s, o) for o in s.outcomes]
        assert len(rows) == (5 if netting else 7)  # netting: one net row, four unknown
        for row in rows:
            value, text, sha = canonical_form(row.payload)
            assert (row.payload, row.payload_json, row.sha256) == (value, text, sha)
            assert row.columns["details"] == row.payload["details"]

    def test_the_payload_is_the_outcome_business_values(self) -> None:
        """Ticket 1002 opened 30 points above its entry: (1.08530 - 1.08500) / 0.00001 = 30
        points, over the 10 allowed: slippage. Key and status are left to the key and the
        reason; None values are left out."""
        s = synced(outcomes())
        [slipped] = [o for o in s.outcomes if o.subject == "t1002"]
        row = reconciliation_row(s, slipped)
        by_hand = {
            "reason": "slippage",
            "signal_id": "B",
            "approval_id": "APR-B",
            "ticket": 1002,
            "symbol": "EURUSD",
            "direction": "buy",
            "expected_volume": "0.1",
            "volume": "0.1",
            "entry_price": "1.085",
            "open_price": "1.0853",
            "current_price": "1.086",
            "stop_loss": None,
            "take_profit": "1.09",
            "details": {"matched_by": "ticket", "volume_diff": "0", "slippage_points": "30"},
        }
        by_hand.pop("stop_loss")  # the position has no SL set (0.0): None, left out
        assert row.key == "RECON:3:s77:t1002"
        assert row.payload == by_hand
        assert row.sha256 == payload_sha256(by_hand)
        assert (row.columns["status"], row.columns["login"], row.columns["stop_loss"]) == ("divergence", 5001, None)

    def test_a_closed_position_keeps_its_exit_and_profit(self) -> None:
        """Ticket 1004 closed by its SL at 1.07995, 5 points past 1.08000, within the 10
        allowed: closed_by_sl_tp, its profit -50.05 and exit price in the payload."""
        s = synced(outcomes())
        [closed] = [o for o in s.outcomes if o.subject == "t1004"]
        row = reconciliation_row(s, closed)
        assert (row.payload["reason"], row.payload["exit_price"], row.payload["close_profit"]) == (
            "closed_by_sl_tp",
            "1.07995",
            "-50.05",
        )
        assert row.payload["close_reason"] == row.payload["details"]["close_reason"] == "sl"
