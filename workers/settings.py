"""Settings: environment variables prefixed HEDGEOPS_ (and a .env file). The defaults are
the embedded mode; setting a broker URL switches to distributed mode."""

from __future__ import annotations

import json
import re
from datetime import date, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import SettingsConfigDict
from pydantic_settings import SettingsError as PydanticSettingsError

from core.calendars import CalendarName
from core.hedging.policy import DEFAULT_DISCOUNT_RATES, HedgingPolicy
from core.monitoring import DEFAULT_MAX_UNVALUED_PCT
from core.morning import DATASETS, DEFAULT_DEADLINES, Deadline
from core.rows import DateWindow
from core.values import D1Policy
from workers.settings_checks import broker_without_database, unknown_message, unknown_settings
from workers.settings_delivery import DeliverySettings
from workers.settings_guard import GuardSettings
from workers.settings_hedging import HedgingSettings
from workers.settings_mt5 import Mt5Settings
from workers.settings_prices import PriceCheckSettings


class SettingsError(Exception):
    """A bad setting: one line that names it."""


class SourceSpec(BaseModel):
    """One price source: its name (part of every price key), kind, the symbols it gives."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9_]{1,64}$")
    kind: Literal["drop_folder", "http_json", "ecb_file"]
    symbols: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    path: Path | None = None  # drop_folder: the folder (default HEDGEOPS_PRICE_DROP_DIR); ecb_file: the file
    url: str | None = Field(None, pattern=r"^https?://")  # http_json
    timeout: float = Field(10.0, gt=0)  # http_json: seconds per request
    retries: int = Field(3, ge=0, le=10)  # http_json: tries after the first on 5xx and connection errors
    currencies: list[str] | None = None  # ecb_file: the currencies to store (default all)
    lookback_days: int = Field(10, ge=1)  # ecb_file: how far back a nightly reads (a full load reads all)

    @model_validator(mode="after")
    def _kind_needs(self) -> SourceSpec:
        if self.kind == "http_json" and not self.url:
            raise ValueError(f"source {self.name}: an http_json source needs a url")
        return self


DEFAULT_SOURCES = [
    SourceSpec(name="vendor_csv", kind="drop_folder", symbols=["LME-*=mt"]),
    SourceSpec(name="ecb", kind="ecb_file", symbols=["EUR*"]),
]


class Settings(GuardSettings, HedgingSettings, Mt5Settings, DeliverySettings, PriceCheckSettings):
    model_config = SettingsConfigDict(env_prefix="HEDGEOPS_", env_file=".env", extra="ignore")

    database_url: str = Field("sqlite:///./var/hedgeops.db", description="SQLAlchemy URL of the database")
    broker_url: str | None = Field(None, description="Redis URL of the broker; unset = embedded mode")
    result_backend: str | None = Field(None, description="Redis URL of results; default the broker URL")
    redis_key_prefix: str = Field(
        "",
        pattern=r"^[A-Za-z0-9:_.-]{0,64}$",
        description="prefix of every Redis key (queues, results, locks): several environments can share one Redis",
    )
    price_drop_dir: Path = Field(Path("./var/prices/incoming"), description="vendor CSV drop folder")
    drop_settle_seconds: float = Field(
        2.0, ge=0, le=3600, description="a dropped file is read once unwritten this long (or renamed from *.part)"
    )
    price_file_max_mb: int = Field(256, ge=1, le=65536, description="a price file over this size is quarantined")
    price_file_read_seconds: float = Field(
        120.0, gt=0, le=3600, description="the checking pass over a price file must end within this; else quarantined"
    )
    price_sources: list[SourceSpec] = Field(
        default_factory=lambda: list(DEFAULT_SOURCES),
        min_length=1,
        description="price sources, a JSON list (see README: Price sources)",
    )
    price_sources_file: Path | None = Field(
        None, description="a JSON file with the price sources list; wins over HEDGEOPS_PRICE_SOURCES"
    )
    symbol_calendars: dict[str, CalendarName] = Field(
        default_factory=dict, description='calendar per symbol or prefix, JSON: {"LME-": "ENGLAND_WALES"}'
    )
    d1_policy: D1Policy = Field(
        D1Policy.BUSINESS,
        description="business (previous business day of the symbol's calendar) or calendar (plain D-1)",
    )
    nightly_at: time = Field(time(22, 30), description="UTC time of the nightly chain (HH:MM)")
    nightly_enabled: bool = Field(True, description="put the nightly chain in beat's schedule")
    nightly_deadline_minutes: int = Field(
        120,
        ge=1,
        le=2880,
        description=(
            "minutes after nightly_at by which the nightly must have succeeded: later, `hedgeops check` is "
            "CRITICAL and an alert goes out"
        ),
    )
    nightly_calendar: CalendarName = Field(
        CalendarName.WEEKDAYS,
        description=(
            "the business dates that have a nightly: the freshness alert and `check nightly` expect one for the "
            "newest of them past its deadline"
        ),
    )
    check_max_unvalued_pct: Decimal = Field(
        DEFAULT_MAX_UNVALUED_PCT,
        ge=0,
        le=100,
        description="share of active contracts (%) without a snapshot above which `check nightly` is CRITICAL",
    )
    reports_dir: Path | None = Field(
        None, description="the nightly writes the morning pack of its date here (morning-D.html); unset: it does not"
    )
    report_deadlines: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_DEADLINES),
        description="the morning pack's business deadline per dataset (job), local time on the morning after D, JSON",
    )
    mtm_chunk_size: int = Field(5000, ge=1, le=50_000, description="contracts per MTM chunk task")
    mtm_in_database: bool = Field(
        True,
        description=(
            "PostgreSQL: value each MTM chunk's commodity forwards in the database, one statement per "
            "chunk, byte-identical to core's (false: every contract in Python, as on SQLite)"
        ),
    )
    # Hedge accounting. The effectiveness defaults are what a designation locks when its file leaves them out.
    discount_rates: dict[str, Decimal] = Field(
        default_factory=lambda: dict(DEFAULT_DISCOUNT_RATES),
        description=(
            "flat annual rates (simple, ACT/360) by currency that discount FX forward MTM with more than "
            '90 days to run, JSON: {"USD": "0.05"}'
        ),
    )
    effectiveness_band_min: Decimal = Field(
        Decimal("0.80"),
        gt=0,
        le=1,
        description="lower end of the default policy band of dollar offset ratios (and of -slope)",
    )
    effectiveness_band_max: Decimal = Field(Decimal("1.25"), ge=1, description="upper end of the default policy band")
    materiality_floor: Decimal = Field(
        Decimal("1000"),
        ge=0,
        description="default dollar-offset materiality floor: |ΔI| below it is inconclusive (in the legs' currency)",
    )
    regression_window: int = Field(
        60, ge=3, le=1000, description="default regression window: the most recent changes regressed"
    )
    regression_min_observations: int = Field(
        20, ge=3, le=1000, description="default fewest changes a regression needs (fewer: insufficient_data)"
    )
    regression_r_squared_min: Decimal = Field(
        Decimal("0.80"), gt=0, le=1, description="default lowest R² of a passing regression"
    )
    regression_p_value_max: Decimal = Field(
        Decimal("0.05"), gt=0, le=1, description="default p-value a passing regression's slope must be below"
    )
    effectiveness_chunk_size: int = Field(
        1000, ge=1, le=50_000, description="designations per effectiveness chunk task"
    )
    task_soft_time_limit: int = Field(540, ge=1, description="seconds before a task is asked to stop")
    task_time_limit: int = Field(600, ge=1, description="seconds before a task is killed")
    visibility_timeout: int = Field(3600, ge=1, description="Redis redelivery timeout, seconds")
    redelivery_sweep: int = Field(
        30,
        ge=1,
        description="seconds between worker sweeps that redeliver messages unacked past the visibility timeout",
    )
    run_stale_after: int = Field(3600, ge=60, description="seconds without heartbeat before a running run is abandoned")
    chunk_resend_after: int = Field(
        300,
        ge=10,
        le=3600,
        description=(
            "seconds without heartbeat after which a running run's missing chunks are sent again (beat's "
            "sweep); below run_stale_after"
        ),
    )
    chunk_resend_sweep: int = Field(
        60, ge=1, le=3600, description="seconds between beat's sweeps for stale runs whose chunks to re-send"
    )
    date_min: date = Field(
        date(1990, 1, 1),
        description="earliest date a loaded file may name (its price, trade, maturity, exposure and designation dates)",
    )
    date_max: date = Field(date(2199, 12, 31), description="latest date a loaded file may name")
    redis_socket_timeout: float = Field(30.0, gt=0, description="Redis socket timeout, seconds")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="lowest level logged")
    log_format: Literal["auto", "json", "console"] = Field("auto", description="auto: JSON unless on a TTY")
    retry_log_every: float = Field(
        10.0,
        ge=0,
        le=3600,
        description=(
            "seconds over which a process's task retry lines are counted, not written: the first after a quiet "
            "period is written, then one task_retries_summarized line per window with the count; 0: every line"
        ),
    )
    metrics_port: int = Field(
        0,
        ge=0,
        le=65535,
        description=(
            "port of the Prometheus metrics endpoint of each worker node (one per node, the sum of its "
            "processes); 0: none"
        ),
    )
    flower_user: str | None = Field(None, description="user of Flower's basic auth (`hedgeops flower`)")
    flower_password: SecretStr | None = Field(None, description="password of Flower's basic auth (`hedgeops flower`)")
    allow_unknown_settings: bool = Field(
        False, description="an unknown HEDGEOPS_* name (environment or .env) is a warning, not a stop at start-up"
    )
    #: The unknown names a process started with anyway (allow_unknown_settings): logged once it logs.
    _unknown_names: list[str] = PrivateAttr(default_factory=list)

    @field_validator("broker_url", "result_backend")
    @classmethod
    def _redis_only(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not re.match(r"^rediss?://", value):
            raise ValueError("must be a redis:// or rediss:// URL")
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not re.match(r"^(sqlite|postgresql(\+psycopg)?)://", value):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

    @model_validator(mode="after")
    def _sources_from_file(self) -> Settings:
        if self.price_sources_file is not None:
            try:
                raw = json.loads(self.price_sources_file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ValueError(f"price_sources_file {self.price_sources_file}: {exc}") from None
            self.price_sources = TypeAdapter(list[SourceSpec]).validate_python(raw)
        names = [s.name for s in self.price_sources]
        if len(set(names)) != len(names):
            raise ValueError(f"price source names must be unique: {names}")
        problem = self.verification_problem(names)
        if problem is not None:
            raise ValueError(problem)
        return self

    @field_validator("report_deadlines")
    @classmethod
    def _deadlines_parse(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(DATASETS.values()))
        if unknown:
            raise ValueError(f"unknown dataset(s) {unknown}: the datasets are {sorted(DATASETS.values())}")
        for text in value.values():
            Deadline.parse(text)
        return {**DEFAULT_DEADLINES, **value}

    @field_validator("discount_rates")
    @classmethod
    def _rates_by_currency(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for currency, rate in value.items():
            if not re.match(r"^[A-Z]{3}$", currency) or not Decimal(-1) < rate < 1:
                raise ValueError(f"{currency}: {rate}: currencies are 3 capitals, rates between -1 and 1")
        return value

    @model_validator(mode="after")
    def _hedging_defaults_agree(self) -> Settings:
        if self.regression_min_observations > self.regression_window:
            raise ValueError("regression_min_observations must not exceed regression_window")
        return self

    @model_validator(mode="after")
    def _crosses_have_their_legs(self) -> Settings:
        """Crosses are derived from the stored rates of the first ECB source: it must store both legs."""
        if not self.ecb_crosses:
            return self
        spec = next((s for s in self.price_sources if s.kind == "ecb_file"), None)
        if spec is None:
            raise ValueError("ecb_crosses need an ecb_file price source: crosses are derived from its stored rates")
        needed = {ccy for pair in self.ecb_crosses for ccy in (pair[:3], pair[3:]) if ccy != "EUR"}
        lacking = sorted(needed - set(spec.currencies)) if spec.currencies is not None else []
        if lacking:
            raise ValueError(f"ecb_crosses need {', '.join(lacking)} among the currencies of price source {spec.name}")
        return self

    def hedging_policy(self) -> HedgingPolicy:
        return self.with_fx_valuation(
            HedgingPolicy(
                discount_rates=dict(self.discount_rates),
                band_min=self.effectiveness_band_min,
                band_max=self.effectiveness_band_max,
                materiality_floor=self.materiality_floor,
                regression_window=self.regression_window,
                min_observations=self.regression_min_observations,
                r_squared_min=self.regression_r_squared_min,
                p_value_max=self.regression_p_value_max,
                chunk_size=self.effectiveness_chunk_size,
            )
        )

    @model_validator(mode="after")
    def _limits_below_visibility(self) -> Settings:
        if self.task_soft_time_limit >= self.task_time_limit:
            raise ValueError("task_soft_time_limit must be below task_time_limit")
        if self.task_time_limit >= self.visibility_timeout:
            raise ValueError("task_time_limit must be below visibility_timeout, or Redis redelivers running tasks")
        return self

    @model_validator(mode="after")
    def _resend_before_abandon(self) -> Settings:
        if self.chunk_resend_after >= self.run_stale_after:
            raise ValueError(
                "chunk_resend_after must be below run_stale_after: a stale run's chunks are re-sent before it is "
                "abandoned"
            )
        if self.date_min >= self.date_max:
            raise ValueError("date_min must be before date_max")
        return self

    @property
    def unknown_names(self) -> list[str]:
        """The unknown HEDGEOPS_* names this process was allowed to start with."""
        return list(self._unknown_names)

    @property
    def date_window(self) -> DateWindow:
        """The dates a loaded file may name: every loader refuses a row outside it."""
        return DateWindow(self.date_min, self.date_max)

    @property
    def distributed(self) -> bool:
        return self.broker_url is not None

    @property
    def stale_after(self) -> timedelta:
        return timedelta(seconds=self.run_stale_after)


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, or SettingsError naming the first bad one (or the mix of
    settings no process may start with)."""
    settings = _validated(overrides)
    env_file = settings.model_config.get("env_file")
    unknown = unknown_settings(Settings.model_fields, Path(str(env_file)) if env_file else None)
    if unknown and not settings.allow_unknown_settings:
        raise SettingsError(unknown_message(unknown))
    settings._unknown_names = unknown
    problem = broker_without_database(settings.distributed, "database_url" in settings.model_fields_set)
    if problem is not None:
        raise SettingsError(problem)
    return settings


def _validated(overrides: dict[str, Any]) -> Settings:
    try:
        return Settings(**overrides)  # each value is validated as its setting
    except PydanticSettingsError as exc:  # a JSON setting that is not JSON
        raise SettingsError(f"invalid setting {_env_named(str(exc))}: not valid JSON") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"]) or "settings"
        env = f"HEDGEOPS_{name.upper()}" if first["loc"] else "HEDGEOPS_* settings"
        message = first["msg"].removeprefix("Value error, ")
        if not first["loc"] and message.startswith("HEDGEOPS_"):
            raise SettingsError(f"invalid setting {message}") from None
        raise SettingsError(f"invalid setting {env}: {message}") from None


def _env_named(message: str) -> str:
    """pydantic-settings says `error parsing value for field "price_sources" from source ...`."""
    found = re.search(r'field "([a-z0-9_]+)"', message)
    return f"HEDGEOPS_{found.group(1).upper()}" if found else "HEDGEOPS_* settings"
