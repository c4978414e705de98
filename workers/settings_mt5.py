"""The MT5 settings of the pipeline: which gateway a process drives, its terminals, the
sync's pace and the order rate a terminal may get. A part of `workers.settings.Settings`,
as the guard's (workers.settings_guard) and hedge accounting's (workers.settings_hedging)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings


class Mt5Settings(BaseSettings):
    mt5_gateway: Literal["simulator", "metatrader5", "mt5linux"] = Field(
        "simulator",
        description=(
            "MT5 gateway of this process: simulator, metatrader5 (the Windows package) or mt5linux (the bridge)"
        ),
    )
    mt5_scenario: Path | None = Field(
        None, description="the simulator's scenario file (JSON); unset: the shipped demo scenario"
    )
    mt5_simulator_clock: Path | None = Field(
        None,
        description=(
            "tests only, with the simulator: a file holding the simulated instant (ISO 8601 with its offset); "
            "the simulated terminal's time and the process's clock (worker processes cannot be frozen)"
        ),
    )
    mt5_terminal_path: str | None = Field(
        None, description="metatrader5/mt5linux: the terminal64.exe to initialize (unset: the one the package finds)"
    )
    mt5linux_host: str = Field("localhost", min_length=1, description="mt5linux: host of the RPyC server")
    mt5linux_port: int = Field(18812, ge=1, le=65535, description="mt5linux: port of the RPyC server")
    mt5_terminals: str = Field(
        "",
        pattern=r"^([a-z0-9][a-z0-9_-]{0,22}(,[a-z0-9][a-z0-9_-]{0,22})*)?$",
        description="terminals beat runs the sync cycle of, comma-separated (queue mt5.<terminal> each); empty: none",
    )
    mt5_sync_every: int = Field(30, ge=1, le=86_400, description="seconds between two sync cycles of a terminal (beat)")
    mt5_sync_chunk_size: int = Field(200, ge=1, le=1000, description="accounts per sync task")
    mt5_slippage_points: int = Field(
        10, ge=0, description="entry price tolerance, in points, before a position is slippage"
    )
    mt5_orders_per_second: int = Field(
        20,
        ge=0,
        le=10_000,
        description="order_send calls a terminal may get in any one second (the guard's closes and removals "
        "wait for it; 0: no limit): a close-all of hundreds must not be answered too_many_requests",
    )
    mt5_cycle_stale_after: int = Field(
        600,
        ge=30,
        description="seconds without heartbeat before a running sync cycle is abandoned (and its lock expires)",
    )

    @model_validator(mode="after")
    def _scenario_readable(self) -> Self:
        if self.mt5_gateway == "simulator" and self.mt5_scenario is not None:
            from workers.adapters.mt5.scenario import scenario_problem

            problem = scenario_problem(self.mt5_scenario)
            if problem:
                raise ValueError(f"HEDGEOPS_MT5_SCENARIO {self.mt5_scenario}: {problem}")
        return self

    @model_validator(mode="after")
    def _clock_only_simulated(self) -> Self:
        """A test double's clock on a real terminal would put the guard's day beside the
        broker's: refused at start-up."""
        if self.mt5_simulator_clock is not None and self.mt5_gateway != "simulator":
            raise ValueError(f"mt5_simulator_clock is for the simulator only, not mt5_gateway={self.mt5_gateway}")
        return self

    @property
    def mt5_terminal_names(self) -> list[str]:
        return [t for t in self.mt5_terminals.split(",") if t]
