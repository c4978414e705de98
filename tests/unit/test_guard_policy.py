"""The drawdown guard's policy: defaults, an account's override, the refusals, the scope."""

from __future__ import annotations

from datetime import time
from decimal import Decimal as D
from typing import Any

import pytest
from pydantic import ValidationError

from core.errors import InvalidInput
from core.keys import close_intent_key
from core.mt5.guard_policy import DayBasis, GuardMode, GuardPolicy, PeakReset, in_scope, policy_for

DEFAULTS = GuardPolicy()


class TestDefaults:
    def test_the_defaults_are_the_issue_s(self) -> None:
        assert (DEFAULTS.day_start, DEFAULTS.day_start_tz) == (time(17, 0), "America/New_York")
        assert (DEFAULTS.confirm_syncs, DEFAULTS.mode, DEFAULTS.daily_loss_pct) == (1, GuardMode.ENFORCE, None)
        assert DEFAULTS.warning_pct <= DEFAULTS.execution_pct

    def test_a_policy_is_frozen(self) -> None:
        with pytest.raises(ValidationError):
            DEFAULTS.warning_pct = D("1")  # type: ignore[misc]


class TestOverride:
    @pytest.mark.parametrize("override", [None, {}])
    def test_no_override_gives_the_defaults(self, override: dict[str, Any] | None) -> None:
        assert policy_for(DEFAULTS, override) is DEFAULTS

    def test_an_override_from_json_is_laid_over_the_defaults(self) -> None:
        policy = policy_for(
            DEFAULTS,
            {
                "warning_pct": "4.5",
                "execution_pct": 8,
                "daily_loss_pct": 5.0,
                "daily_basis": "max",
                "day_start": "00:00",
                "day_start_tz": "Europe/Prague",
                "peak_reset": "daily",
                "mode": "shadow",
                "scope_magics": [7, 8],
                "scope_symbols": ["EURUSD"],
                "confirm_syncs": 2,
            },
        )

        assert (policy.warning_pct, policy.execution_pct, policy.daily_loss_pct) == (D("4.5"), D("8"), D("5.0"))
        assert (policy.daily_basis, policy.peak_reset, policy.mode) == (DayBasis.MAX, PeakReset.DAILY, GuardMode.SHADOW)
        assert (policy.day_start, policy.day_start_tz) == (time(0, 0), "Europe/Prague")
        assert (policy.scope_magics, policy.scope_symbols) == (frozenset({7, 8}), frozenset({"EURUSD"}))
        assert policy.max_attempts == DEFAULTS.max_attempts  # not overridden

    @pytest.mark.parametrize(
        ("override", "field"),
        [
            ({"warnign_pct": 3}, "warnign_pct"),  # a typo is refused, not ignored
            ({"warning_pct": 0}, "warning_pct"),  # 0 < warning
            ({"execution_pct": 100}, "execution_pct"),  # execution < 100
            ({"warning_pct": 12, "execution_pct": 10}, "warning_pct"),  # warning <= execution
            ({"daily_loss_pct": -1}, "daily_loss_pct"),
            ({"daily_basis": "margin"}, "daily_basis"),
            ({"peak_reset": "weekly"}, "peak_reset"),
            ({"mode": "dry"}, "mode"),
            ({"day_start_tz": "Europe/Atlantis"}, "day_start_tz"),
            ({"day_start_tz": "../etc/passwd"}, "day_start_tz"),
            ({"day_start": "25:00"}, "day_start"),
            ({"day_start": "17:00+02:00"}, "day_start"),  # the zone is day_start_tz's
            ({"hysteresis_pct": -1}, "hysteresis_pct"),
            ({"hysteresis_pct": 5}, "hysteresis_pct"),  # = warning 5: would never re-arm
            ({"confirm_syncs": 0}, "confirm_syncs"),
            ({"max_sync_age_s": 0}, "max_sync_age_s"),
            ({"equity_jump_pct": 0}, "equity_jump_pct"),
            ({"max_attempts": 0}, "max_attempts"),
            ({"scope_magics": [-1]}, "scope_magics"),
        ],
    )
    def test_a_bad_override_is_refused_naming_the_field(self, override: dict[str, Any], field: str) -> None:
        with pytest.raises(InvalidInput) as caught:
            policy_for(DEFAULTS, override)

        assert field in str(caught.value)
        assert caught.value.errors


class TestScope:
    @pytest.mark.parametrize(
        ("magics", "symbols", "magic", "symbol", "inside"),
        [
            ((), (), 7, "EURUSD", True),  # an empty scope is everything
            ((7,), (), 7, "XAUUSD", True),
            ((7,), (), 8, "EURUSD", False),
            ((), ("EURUSD",), 0, "EURUSD", True),  # magic 0: a manual trade, in scope when no magic is named
            ((), ("EURUSD",), 7, "GBPUSD", False),
            ((7, 9), ("EURUSD", "XAUUSD"), 9, "XAUUSD", True),
            ((7, 9), ("EURUSD", "XAUUSD"), 9, "GBPUSD", False),
        ],
    )
    def test_in_scope(
        self, magics: tuple[int, ...], symbols: tuple[str, ...], magic: int, symbol: str, inside: bool
    ) -> None:
        policy = policy_for(DEFAULTS, {"scope_magics": list(magics), "scope_symbols": list(symbols)})

        assert in_scope(policy, magic, symbol) is inside


@pytest.mark.parametrize(
    ("login", "ticket", "episode", "key"),
    [
        (5001234, 88812, 3, "CLOSE:5001234:88812:ep3"),  # DESIGN.md's example
        (5001, 1001, 1, "CLOSE:5001:1001:ep1"),
    ],
)
def test_close_intent_key(login: int, ticket: int, episode: int, key: str) -> None:
    assert close_intent_key(login, ticket, episode) == key
