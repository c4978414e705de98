"""What the CLI asks of the drawdown guard's history: a replay of an account's stored
position snapshots through a policy (core.mt5.guard_replay), as JSON."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from core.errors import HedgeopsError
from core.mt5.guard_policy import GuardPolicy, policy_for
from core.mt5.guard_replay import ReplayEvent, replay
from core.mt5.values import Account
from db.mt5.guard_history import accounts_with_login, snapshot_history
from tasks.mt5.guard import account_policy
from tasks.mt5.ports import Mt5Ports, mt5_ports
from tasks.ports import ports


class UnknownAccount(HedgeopsError):
    """No account has this login (or several have, on different servers)."""


class GuardOff(HedgeopsError):
    """No default policy to replay with: the guard is disabled."""


def replay_policy(mt5: Mt5Ports, account: Account, override: Mapping[str, Any] | None) -> GuardPolicy:
    """The account's own policy (the defaults with its named policy, in its server's time)
    with `override` (a policy file's fields) laid over it; InvalidInput names every refused
    field."""
    policy = account_policy(mt5, account)
    if policy is None:
        raise GuardOff("the drawdown guard is disabled (HEDGEOPS_GUARD_ENABLED=false): no policy to replay")
    return policy_for(policy, override)


def day_window(first: date, last: date) -> tuple[datetime, datetime]:
    """[first 00:00 UTC, the day after last 00:00 UTC): whole UTC days, both included."""
    start = datetime.combine(first, time(0), tzinfo=UTC)
    return start, datetime.combine(last + timedelta(days=1), time(0), tzinfo=UTC)


def replay_account(login: int, first: date, last: date, override: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The guard's events over the account's successful snapshots synced from `first` to
    `last` (UTC days, both included), from a fresh state; JSON-able."""
    mt5 = mt5_ports()
    start, end = day_window(first, last)
    with ports().uow() as uow:
        found = accounts_with_login(uow.session, login)
        if len(found) != 1:
            servers = ", ".join(a.server for a in found)
            raise UnknownAccount(
                f"no MT5 account with login {login}"
                if not found
                else f"login {login} is on several servers ({servers})"
            )
        history = snapshot_history(uow.session, found[0].id, start, end)
    policy = replay_policy(mt5, found[0], override)
    readings = [reading for reading, _ in history]
    ops = [op for _, seen in history for op in seen or ()]
    return {
        "login": login,
        "server": found[0].server,
        "from": first.isoformat(),
        "to": last.isoformat(),
        "readings": len(readings),
        "policy_name": found[0].policy,
        "policy": policy.model_dump(mode="json"),
        "balance_ops": sorted({op.ticket for op in ops}),
        "without_balance_ops": sum(1 for _, seen in history if seen is None),
        "events": [event_json(e) for e in replay(readings, policy, ops)],
    }


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def event_json(event: ReplayEvent) -> dict[str, Any]:
    return {
        "at": event.at.isoformat(),
        "kind": event.kind.value,
        "drawdown_pct": _text(event.drawdown_pct),
        "day_loss_pct": _text(event.day_loss_pct),
        "equity": str(event.equity),
        "episode": event.episode,
        "reasons": [r.value for r in event.reasons],
    }
