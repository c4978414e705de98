"""What ops ask of the drawdown guard (the CLI): each account's guard state, and the
audited reset of a tripped account (the only way a latch is cleared)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core.errors import HedgeopsError
from core.mt5.guard import day_loss_pct, drawdown_pct, shown
from core.mt5.guard_state import GuardStatus, reset
from core.mt5.values import Account
from db.audit import record_event
from db.mt5 import guard as rows
from db.mt5.accounts import list_accounts
from tasks.mt5.guard import account_policy
from tasks.mt5.ports import mt5_ports
from tasks.ports import Ports, ports


class ResetRefused(HedgeopsError):
    """A reset of an account that is not tripped, unknown, or without a name and reason."""


@dataclass(frozen=True, slots=True)
class GuardView:
    account: Account
    status: str
    episode: int
    peak_equity: Decimal | None
    last_equity: Decimal | None
    drawdown_pct: Decimal | None
    day_loss_pct: Decimal | None
    anchor: dict[str, Any] | None
    pending_intents: int

    def as_dict(self) -> dict[str, Any]:
        def text(v: Decimal | None) -> str | None:
            return None if v is None else str(v)

        return {
            "login": self.account.login,
            "terminal": self.account.terminal,
            "policy": self.account.policy,
            "state": self.status,
            "episode": self.episode,
            "peak_equity": text(self.peak_equity),
            "equity": text(self.last_equity),
            "drawdown_pct": text(self.drawdown_pct),
            "day_loss_pct": text(self.day_loss_pct),
            "anchor": self.anchor,
            "pending_intents": self.pending_intents,
        }


def guard_status() -> list[GuardView]:
    """Every MT5 account with its guard state (`unguarded` before its first guarded sync)."""
    return _views(ports())


def _views(p: Ports) -> list[GuardView]:
    with p.uow() as uow:
        states = rows.states(uow.session)
        accounts = list_accounts(uow.session)
        pending = rows.open_intents(uow.session, [a.id for a in accounts], mode="enforce") if accounts else []
    views = []
    for account in accounts:
        state = states.get(account.id)
        count = sum(1 for p in pending if p.account_id == account.id)
        if state is None:
            views.append(GuardView(account, "unguarded", 0, None, None, None, None, None, count))
            continue
        equity = state.last_equity
        anchor = (
            None
            if state.anchor is None
            else {
                "trading_day": state.anchor.trading_day.isoformat(),
                "basis": state.anchor.basis.value,
                "value": str(state.anchor.anchor_value_now()),
                "source": state.anchor.source.value,
            }
        )
        views.append(
            GuardView(
                account,
                state.status.value,
                state.episode,
                state.peak_equity,
                equity,
                None if equity is None else shown(drawdown_pct(state.peak_equity, equity)),
                None if equity is None else shown(day_loss_pct(state.anchor, equity)),
                anchor,
                count,
            )
        )
    return views


def guard_reset(login: int, by: str, reason: str, *, keep_peak: bool = False) -> GuardView:
    """Re-arm a tripped account (audited: who, why, the episode it ends, the peak kept or re-based)."""
    if not by.strip() or not reason.strip():
        raise ResetRefused("a reset names who resets (--by) and why (--reason)")
    p, mt5 = ports(), mt5_ports()
    with p.uow() as uow:
        account = next((a for a in list_accounts(uow.session) if a.login == login), None)
        if account is None:
            raise ResetRefused(f"no MT5 account with login {login}")
        state = rows.load_state(uow.session, account.id)
        if state.status is not GuardStatus.TRIPPED:
            raise ResetRefused(f"account {login} is not tripped (it is {state.status.value}): nothing to reset")
        policy = account_policy(mt5, account)
        if policy is None:
            raise ResetRefused("the drawdown guard is off (HEDGEOPS_GUARD_ENABLED=false)")
        now = p.clock()
        armed = reset(state, now, policy, state.last_equity or Decimal(0), keep_peak=keep_peak)
        rows.save_state(uow.session, account.id, login, armed, now=now)
        record_event(
            uow.session,
            "guard_reset",
            entity_type="mt5_account",
            entity_id=account.id,
            now=now,
            actor=by.strip(),
            details={
                "login": login,
                "by": by.strip(),
                "reason": reason.strip(),
                "episode": state.episode,
                "peak": {"was": str(state.peak_equity), "now": str(armed.peak_equity)},
            },
        )
        uow.commit()
    return next(v for v in _views(p) if v.account.login == login)
