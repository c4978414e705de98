"""Settings: environment variables prefixed HEDGEOPS_ (and a .env file). The defaults are
the embedded mode; setting a broker URL switches to distributed mode."""
from __future__ import annotations

import re
from datetime import time, timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.values import D1Policy


class SettingsError(Exception):
    """A bad setting: one line that names it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HEDGEOPS_", env_file=".env", extra="ignore")

    database_url: str = Field("sqlite:///./var/hedgeops.db", description="SQLAlchemy URL of the database")
    broker_url: str | None = Field(None, description="Redis URL of the broker; unset = embedded mode")
    result_backend: str | None = Field(None, description="Redis URL of results; default the broker URL")
    redis_key_prefix: str = Field("", pattern=r"^[A-Za-z0-9:_.-]{0,64}$", description="prefix of every Redis key (queues, results, locks): several environments can share one Redis")
    price_drop_dir: Path = Field(Path("./var/prices/incoming"), description="vendor CSV drop folder")
    price_source_name: str = Field("vendor_csv", pattern=r"^[a-z0-9_]{1,64}$", description="source name of drop-folder prices")
    d1_policy: D1Policy = Field(D1Policy.BUSINESS, description="business (previous weekday) or calendar (plain D-1)")
    nightly_at: time = Field(time(22, 30), description="UTC time of the nightly chain (HH:MM)")
    nightly_enabled: bool = Field(True, description="put the nightly chain in beat's schedule")
    mtm_chunk_size: int = Field(1000, ge=1, le=50_000, description="contracts per MTM chunk task")
    task_soft_time_limit: int = Field(540, ge=1, description="seconds before a task is asked to stop")
    task_time_limit: int = Field(600, ge=1, description="seconds before a task is killed")
    visibility_timeout: int = Field(3600, ge=1, description="Redis redelivery timeout, seconds")
    redelivery_sweep: int = Field(30, ge=1, description="seconds between worker sweeps that redeliver messages unacked past the visibility timeout")
    run_stale_after: int = Field(3600, ge=60, description="seconds without heartbeat before a running run is abandoned")
    redis_socket_timeout: float = Field(30.0, gt=0, description="Redis socket timeout, seconds")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="lowest level logged")
    log_format: Literal["auto", "json", "console"] = Field("auto", description="auto: JSON unless on a TTY")

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
    def _limits_below_visibility(self) -> Settings:
        if self.task_soft_time_limit >= self.task_time_limit:
            raise ValueError("task_soft_time_limit must be below task_time_limit")
        if self.task_time_limit >= self.visibility_timeout:
            raise ValueError(
                "task_time_limit must be below visibility_timeout, or Redis redelivers running tasks")
        return self

    @property
    def distributed(self) -> bool:
        return self.broker_url is not None

    @property
    def stale_after(self) -> timedelta:
        return timedelta(seconds=self.run_stale_after)


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, or SettingsError naming the first bad one."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"]) or "settings"
        env = f"HEDGEOPS_{name.upper()}" if first["loc"] else "HEDGEOPS_* settings"
        message = first["msg"].removeprefix("Value error, ")
        raise SettingsError(f"invalid setting {env}: {message}") from None
