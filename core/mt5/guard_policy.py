"""The drawdown guard's policy: thresholds, the trading day, scope and mode of one account.

`GuardPolicy` holds every field (defaults come from settings, one `HEDGEOPS_GUARD_*`
setting per field); `policy_for(defaults, override)` lays an account's JSON override
(`mt5_accounts.policy`) over them and names the field it refuses; `in_scope` says whether
a position is the guard's to close.

Percentages are Decimal percent points (`5` is 5 %, not 0.05). Times are the local wall
clock of `day_start_tz`: an IANA zone name, a fixed offset (`UTC+03:00`), `ny-close`
(core.mt5.server_time), or `server`: the clock of the account's trade server, resolved
per account by `on_server` (the task does it with the server clock settings).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import time, tzinfo
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.errors import InvalidInput
from core.mt5.rule_packs import RULE_PACKS
from core.mt5.server_time import server_zone


class PeakReset(StrEnum):
    """When the peak-equity high-water mark starts again from the current equity."""

    NEVER = "never"
    DAILY = "daily"  # at the first reading of each trading day
    ON_RESET = "on_reset"  # when the latch is reset (`hedgeops guard reset`)


class DayBasis(StrEnum):
    """The day's starting value the daily loss is measured from."""

    BALANCE = "balance"
    EQUITY = "equity"
    MAX = "max"  # the higher of balance and equity


class Measure(StrEnum):
    """What a limit compares with its floor."""

    BALANCE = "balance"
    EQUITY = "equity"


class LimitOf(StrEnum):
    """What a limit's percentage is of."""

    BASE = "base"  # the limit's own base (the day's start, the peak)
    INITIAL_BALANCE = "initial_balance"  # the account's initial balance (a prop firm's account size)


class MaxLossBase(StrEnum):
    """Where the max loss is measured from."""

    INITIAL_BALANCE = "initial_balance"  # static
    EOD_HIGH_BALANCE = "eod_high_balance"  # trailing: the highest end-of-day balance (at least the initial)


class Unlock(StrEnum):
    """How the latch a limit tripped clears."""

    AUTO = "auto"  # by itself at the next trading-day boundary (audited and alerted)
    MANUAL = "manual"  # only by the audited reset (`hedgeops guard reset`)


class GuardMode(StrEnum):
    ENFORCE = "enforce"  # closes positions
    SHADOW = "shadow"  # records what it would close, sends nothing


SERVER = "server"


def _zone_name(name: str) -> str:
    if name == SERVER:
        return name
    try:
        server_zone(name)
    except ValueError as exc:
        raise ValueError(f"unknown time zone {name!r} (an IANA zone, UTC+HH:MM, ny-close or server)") from exc
    return name


def _naive(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError("day_start is a wall-clock time of day_start_tz: give no offset")
    return value


Percent = Annotated[Decimal, Field(gt=0, lt=100)]


class GuardPolicy(BaseModel):
    """What the guard of one account does. `execution_pct` and `daily_loss_pct` close
    positions; `warning_pct` alerts. See the module docstring for units."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    warning_pct: Percent = Decimal("5")
    execution_pct: Percent = Decimal("10")
    peak_reset: PeakReset = PeakReset.NEVER
    daily_loss_pct: Percent | None = None  # None: no daily loss limit
    daily_basis: DayBasis = DayBasis.BALANCE
    #: How each limit's latch clears: the daily loss may clear at the next boundary; max
    #: drawdown only by the audited reset (`auto` is refused for it).
    daily_loss_unlock: Unlock = Unlock.MANUAL
    drawdown_unlock: Unlock = Unlock.MANUAL
    #: The daily loss: its percentage of the day's start (base) or of initial_balance, and
    #: the value it watches (equity, or balance: closed results only).
    daily_loss_of: LimitOf = LimitOf.BASE
    daily_measure: Measure = Measure.EQUITY
    #: The account's initial balance (a prop firm's account size), for limits of it.
    initial_balance: Annotated[Decimal, Field(gt=0)] | None = None
    #: Max loss (None: none): max_loss_pct % of initial_balance below its base, on
    #: max_loss_measure; it clears only by the audited reset.
    max_loss_pct: Percent | None = None
    max_loss_base: MaxLossBase = MaxLossBase.INITIAL_BALANCE
    max_loss_measure: Measure = Measure.EQUITY
    day_start: Annotated[time, AfterValidator(_naive)] = time(17, 0)
    day_start_tz: Annotated[str, AfterValidator(_zone_name)] = "America/New_York"
    scope_magics: frozenset[Annotated[int, Field(ge=0)]] = frozenset()  # empty: every magic
    scope_symbols: frozenset[Annotated[str, Field(min_length=1)]] = frozenset()  # empty: every symbol
    mode: GuardMode = GuardMode.ENFORCE
    #: Re-arm once drawdown is below warning_pct - hysteresis_pct.
    hysteresis_pct: Annotated[Decimal, Field(ge=0)] = Decimal("1")
    #: Breaches in a row (one per sync) before execution.
    confirm_syncs: Annotated[int, Field(ge=1)] = 1
    #: A reading older than this is confirmed by a fresh account_info before it counts;
    #: also the grace after the day boundary within which a reading may anchor the day.
    max_sync_age_s: Annotated[int, Field(gt=0)] = 120
    #: An equity move of more than this % since the previous reading must be confirmed.
    equity_jump_pct: Annotated[Decimal, Field(gt=0)] = Decimal("20")
    deviation_points: Annotated[int, Field(ge=0)] = 20
    #: order_send attempts per close intent before it is `failed` (market-closed answers excluded).
    max_attempts: Annotated[int, Field(ge=1)] = 5

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.warning_pct > self.execution_pct:
            raise ValueError("warning_pct must not be above execution_pct")
        needs_initial = self.max_loss_pct is not None or self.daily_loss_of is LimitOf.INITIAL_BALANCE
        if needs_initial and self.initial_balance is None:
            raise ValueError("initial_balance is needed by max_loss_pct and by daily_loss_of initial_balance")
        if self.drawdown_unlock is Unlock.AUTO:
            raise ValueError("drawdown_unlock must be manual: max drawdown clears only by the audited reset")
        if self.hysteresis_pct >= self.warning_pct:
            raise ValueError("hysteresis_pct must be below warning_pct (or the guard never re-arms)")
        return self

    @property
    def zone(self) -> tzinfo:
        """The zone of the day boundary; a policy in `server` time must be resolved first."""
        if self.day_start_tz == SERVER:
            raise ValueError("day_start_tz 'server' is resolved per account (on_server) before it is used")
        return server_zone(self.day_start_tz)

    def on_server(self, server_clock: str | None) -> GuardPolicy:
        """The policy with `server` time replaced by the account's server clock spec;
        itself when its day is not in server time. InvalidInput when the clock is unknown."""
        if self.day_start_tz != SERVER:
            return self
        if server_clock is None:
            raise InvalidInput("the policy's day starts in server time, and the account's server has no clock")
        return self.model_copy(update={"day_start_tz": server_clock})


def _messages(error: ValidationError) -> list[str]:
    out = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "policy"
        out.append(f"{where}: {item['msg']}")
    return out


PACK = "pack"


def policy_for(defaults: GuardPolicy, override: Mapping[str, Any] | None) -> GuardPolicy:
    """The account's policy: `override` (parsed JSON of mt5_accounts.policy; None or {}
    for none) laid over `defaults`; with `pack`, over the named rule pack (core.mt5
    .rule_packs) laid over `defaults`. InvalidInput names every refused field."""
    if not override:
        return defaults
    fields = {k: v for k, v in override.items() if k != PACK}
    unknown = sorted(set(fields) - set(GuardPolicy.model_fields))
    if unknown:
        raise InvalidInput(
            f"unknown guard policy field(s): {', '.join(unknown)}", [f"{name}: unknown field" for name in unknown]
        )
    pack = _pack(override.get(PACK))
    try:
        return GuardPolicy.model_validate({**defaults.model_dump(), **pack, **fields})
    except ValidationError as exc:
        errors = _messages(exc)
        raise InvalidInput(f"invalid guard policy: {'; '.join(errors)}", errors) from exc


def _pack(name: object) -> dict[str, Any]:
    if name is None:
        return {}
    if not isinstance(name, str) or name not in RULE_PACKS:
        known = ", ".join(sorted(RULE_PACKS))
        raise InvalidInput(f"unknown rule pack {name!r} (known: {known})", [f"pack: unknown {name!r}"])
    return RULE_PACKS[name]


def in_scope(policy: GuardPolicy, magic: int, symbol: str) -> bool:
    """Whether the guard closes a position of this magic number and symbol (an empty
    scope set means every one)."""
    magic_ok = not policy.scope_magics or magic in policy.scope_magics
    return magic_ok and (not policy.scope_symbols or symbol in policy.scope_symbols)
