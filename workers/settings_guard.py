"""The drawdown guard's settings: one `HEDGEOPS_GUARD_*` setting per policy field (the
defaults of every account), named per-account overrides, where alerts go, and the market
guard's (`HEDGEOPS_GUARD_MARKET`, JSON, with per-symbol overrides)."""

from __future__ import annotations

import json
from datetime import time
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator
from pydantic_settings import BaseSettings

from core.errors import InvalidInput
from core.mt5.guard_policy import (
    DayBasis,
    GuardMode,
    GuardPolicy,
    LimitOf,
    MaxLossBase,
    Measure,
    PeakReset,
    Unlock,
    policy_for,
)
from core.mt5.market_guard import MarketPolicies, MarketPolicy, market_policy_for
from core.mt5.server_time import valid_spec

D = GuardPolicy()  # the defaults of core, shown as the settings' defaults


class GuardSettings(BaseSettings):
    guard_enabled: bool = Field(True, description="run the drawdown guard after each account sync")
    guard_warning_pct: Decimal = Field(
        D.warning_pct, gt=0, lt=100, description="drawdown from peak equity (%) that raises a warning"
    )
    guard_execution_pct: Decimal = Field(
        D.execution_pct,
        gt=0,
        lt=100,
        description="drawdown from peak equity (%) that latches the account and closes its positions",
    )
    guard_peak_reset: PeakReset = Field(
        D.peak_reset, description="when the peak restarts from equity: never, daily or on_reset"
    )
    guard_daily_loss_pct: Decimal | None = Field(
        D.daily_loss_pct,
        gt=0,
        lt=100,
        description="loss from the day's starting value (%) that executes; unset: no daily limit",
    )
    guard_daily_loss_unlock: Unlock = Field(
        D.daily_loss_unlock,
        description="how a daily-loss latch clears: auto (at the next trading-day boundary) or manual (guard reset)",
    )
    guard_daily_loss_of: LimitOf = Field(
        D.daily_loss_of, description="what guard_daily_loss_pct is of: base (the day's start) or initial_balance"
    )
    guard_daily_measure: Measure = Field(D.daily_measure, description="what the daily loss watches: equity or balance")
    guard_initial_balance: Decimal | None = Field(
        D.initial_balance, gt=0, description="the account's initial balance (a prop firm's size), for limits of it"
    )
    guard_max_loss_pct: Decimal | None = Field(
        D.max_loss_pct,
        gt=0,
        lt=100,
        description="max loss (% of the initial balance below its base) that latches for good; unset: none",
    )
    guard_max_loss_base: MaxLossBase = Field(
        D.max_loss_base, description="max loss base: initial_balance (static) or eod_high_balance (trailing)"
    )
    guard_max_loss_measure: Measure = Field(
        D.max_loss_measure, description="what the max loss watches: equity or balance"
    )
    guard_daily_basis: DayBasis = Field(D.daily_basis, description="the day's starting value: balance, equity or max")
    guard_day_start: time = Field(D.day_start, description="local time the trading day starts (HH:MM)")
    guard_day_start_tz: str = Field(
        D.day_start_tz,
        description="zone of guard_day_start: IANA name, UTC+HH:MM, ny-close, or server (the account's server clock)",
    )
    guard_scope_magics: str = Field(
        "", pattern=r"^(\d+(,\d+)*)?$", description="magic numbers the guard closes, comma-separated; empty: all"
    )
    guard_scope_symbols: str = Field("", description="symbols the guard closes, comma-separated; empty: all")
    guard_mode: GuardMode = Field(D.mode, description="enforce (close) or shadow (record what it would do)")
    guard_hysteresis_pct: Decimal = Field(D.hysteresis_pct, ge=0, description="re-arm below warning - hysteresis (%)")
    guard_confirm_syncs: int = Field(D.confirm_syncs, ge=1, description="breaches in a row before execution")
    guard_max_sync_age_s: int = Field(
        D.max_sync_age_s, gt=0, description="an older sync is confirmed by a fresh account_info first"
    )
    guard_equity_jump_pct: Decimal = Field(
        D.equity_jump_pct, gt=0, description="an equity move of more than this % since the last sync is confirmed first"
    )
    guard_deviation_points: int = Field(D.deviation_points, ge=0, description="price deviation of close orders, points")
    guard_max_attempts: int = Field(
        D.max_attempts, ge=1, description="order_send attempts per close before it is failed"
    )
    guard_unknown_after_s: float = Field(
        15.0,
        gt=0,
        le=3600,
        description=(
            "a close sent without a recorded answer for this long is resolved from the broker's positions "
            "and deals by the next sync"
        ),
    )
    guard_policies: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description=(
            'per-account overrides by policy name (mt5_accounts.policy), JSON: {"tight": {"execution_pct": "5"}}'
        ),
    )
    guard_webhook_url: str | None = Field(None, description="JSON webhook for alerts (unset: alerts go to the log)")
    guard_webhook_format: Literal["slack", "telegram", "json"] = Field("json", description="payload of the webhook")
    guard_telegram_chat_id: str | None = Field(None, description="telegram: the chat id")
    guard_notify_timeout_s: float = Field(3.0, gt=0, le=60, description="seconds a notification may take")
    guard_market: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "the market guard (gaps, wide spreads), JSON: its policy fields (gap_pct 2, spread_multiple 5, "
            "spread_window 20, min_samples 5, closed_after_s 3600, action hold_on_spread|close_on_gap|alert, "
            'max_hold_s 120), per-symbol overrides in "symbols", "enabled": false to turn it off: '
            '{"max_hold_s": 60, "symbols": {"XAUUSD": {"action": "close_on_gap"}}}'
        ),
    )
    mt5_server_time: dict[str, Annotated[str, AfterValidator(valid_spec)]] = Field(
        default_factory=dict,
        description=(
            "each trade server's clock, JSON by server name: an IANA zone, a fixed offset (UTC+02:00) or "
            'ny-close (UTC+2, UTC+3 while New York observes DST): {"ICMarketsSC-Live": "ny-close"}'
        ),
    )
    mt5_simulator_state: Path | None = Field(
        None, description="the simulator's state file: a broker that remembers across processes"
    )
    fault_inject: str = Field(
        "", description="tests only: fault points at which the process kills itself, comma-separated"
    )

    @field_validator("guard_policies", "mt5_server_time", "guard_market", mode="before")
    @classmethod
    def _json(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _policies_valid(self) -> GuardSettings:
        """Every named override must make a valid policy: found at start-up, not at a sync."""
        defaults = GuardPolicy() if not self.guard_enabled else self.guard_policy()
        for name, override in self.guard_policies.items():
            try:
                policy_for(defaults or GuardPolicy(), override)
            except InvalidInput as exc:
                raise ValueError(f"guard_policies[{name}]: {exc}") from None
        return self

    @model_validator(mode="after")
    def _market_symbols_valid(self) -> GuardSettings:
        self.market_policies()
        return self

    def market_policies(self) -> MarketPolicies | None:
        """The market guard's default and per-symbol policies (None: it is off); a refused
        field is a ValueError naming it (and its symbol)."""
        fields = dict(self.guard_market)
        enabled, symbols = fields.pop("enabled", True), fields.pop("symbols", {})
        if not isinstance(enabled, bool) or not isinstance(symbols, dict):
            raise ValueError('guard_market: "enabled" must be true or false, "symbols" an object by symbol')
        if not enabled:
            return None
        try:
            default = market_policy_for(MarketPolicy(), fields)
        except InvalidInput as exc:
            raise ValueError(f"guard_market: {exc}") from None
        by_symbol = {}
        for symbol, override in symbols.items():
            if not isinstance(override, dict):
                raise ValueError(f"guard_market.symbols[{symbol}]: must be an object of policy fields")
            try:
                by_symbol[symbol] = market_policy_for(default, override)
            except InvalidInput as exc:
                raise ValueError(f"guard_market.symbols[{symbol}]: {exc}") from None
        return MarketPolicies(default, by_symbol)

    def guard_policy(self) -> GuardPolicy | None:
        """The default policy of every account (None: the guard is off)."""
        if not self.guard_enabled:
            return None
        return GuardPolicy(
            warning_pct=self.guard_warning_pct,
            execution_pct=self.guard_execution_pct,
            peak_reset=self.guard_peak_reset,
            daily_loss_pct=self.guard_daily_loss_pct,
            daily_basis=self.guard_daily_basis,
            daily_loss_unlock=self.guard_daily_loss_unlock,
            daily_loss_of=self.guard_daily_loss_of,
            daily_measure=self.guard_daily_measure,
            initial_balance=self.guard_initial_balance,
            max_loss_pct=self.guard_max_loss_pct,
            max_loss_base=self.guard_max_loss_base,
            max_loss_measure=self.guard_max_loss_measure,
            day_start=self.guard_day_start,
            day_start_tz=self.guard_day_start_tz,
            scope_magics=frozenset(int(m) for m in self.guard_scope_magics.split(",") if m),
            scope_symbols=frozenset(s.strip() for s in self.guard_scope_symbols.split(",") if s.strip()),
            mode=self.guard_mode,
            hysteresis_pct=self.guard_hysteresis_pct,
            confirm_syncs=self.guard_confirm_syncs,
            max_sync_age_s=self.guard_max_sync_age_s,
            equity_jump_pct=self.guard_equity_jump_pct,
            deviation_points=self.guard_deviation_points,
            max_attempts=self.guard_max_attempts,
        )
