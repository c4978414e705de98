"""Rule packs: named guard policies that reproduce a prop firm's published limits. An
account's policy names one (`{"pack": "ftmo-2step", "initial_balance": "100000"}` in
HEDGEOPS_GUARD_POLICIES) and may override any field; docs/mt5.md gives each pack's source
and a worked example (tests/unit/test_rule_packs.py computes them).

Each pack states its limit bases (`daily_basis`: the day's start balance, equity or the
higher; `max_loss_base`: the initial balance or the trailing highest end-of-day balance),
what each percentage is of (`daily_loss_of`), the value watched (`*_measure`: balance or
equity) and the day's reset time and zone. The peak-equity rule is left to warn only
(execution at 99 %): the firms' limits are the daily and max loss. A daily loss clears at
the next reset (`auto`); a max loss only by the audited reset."""

from __future__ import annotations

from typing import Any

_PEAK_WARNS_ONLY = {"warning_pct": "8", "execution_pct": "99", "peak_reset": "never"}

RULE_PACKS: dict[str, dict[str, Any]] = {
    # FTMO Challenge 2-Step: max daily loss 5 % of the initial capital below the balance at
    # midnight CE(S)T, on equity; max loss 10 % of the initial capital, static, on equity.
    "ftmo-2step": {
        **_PEAK_WARNS_ONLY,
        "daily_loss_pct": "5",
        "daily_basis": "balance",
        "daily_loss_of": "initial_balance",
        "daily_measure": "equity",
        "daily_loss_unlock": "auto",
        "max_loss_pct": "10",
        "max_loss_base": "initial_balance",
        "max_loss_measure": "equity",
        "day_start": "00:00",
        "day_start_tz": "Europe/Prague",
    },
    # FTMO Challenge 1-Step: max daily loss 3 % (as 2-Step); max loss 10 % of the initial
    # capital below the highest end-of-day balance (or the initial capital, if higher).
    "ftmo-1step": {
        **_PEAK_WARNS_ONLY,
        "daily_loss_pct": "3",
        "daily_basis": "balance",
        "daily_loss_of": "initial_balance",
        "daily_measure": "equity",
        "daily_loss_unlock": "auto",
        "max_loss_pct": "10",
        "max_loss_base": "eod_high_balance",
        "max_loss_measure": "equity",
        "day_start": "00:00",
        "day_start_tz": "Europe/Prague",
    },
    # The5ers High Stakes: daily loss 5 % of the higher of the day's starting equity and
    # balance, at 00:00 server time (UTC+3 in summer: a ny-close server; 17:00 New York);
    # max loss 10 % of the initial balance.
    "the5ers-high-stakes": {
        **_PEAK_WARNS_ONLY,
        "daily_loss_pct": "5",
        "daily_basis": "max",
        "daily_loss_of": "base",
        "daily_measure": "equity",
        "daily_loss_unlock": "auto",
        "max_loss_pct": "10",
        "max_loss_base": "initial_balance",
        "max_loss_measure": "equity",
        "day_start": "00:00",
        "day_start_tz": "server",
    },
}
