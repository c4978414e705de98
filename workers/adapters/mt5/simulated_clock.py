"""The simulator's clock: a test double's setting (`HEDGEOPS_MT5_SIMULATOR_CLOCK`), never a
production one. Worker processes cannot be frozen from a test (freezegun patches only its
own process), so an end-to-end test that must cross a trading-day boundary, or stand at
23:30 server time on a given Friday, writes the simulated instant into a file, and every
process naming the file reads it: the simulated terminal as its time (ticks, the step's
instant) and the process as its clock (`Ports.clock`, what the guard judges `now` by).
Core still takes its clock as an argument; only the wiring chooses this one.

The file holds one ISO 8601 instant with its offset (`2026-03-06T23:30:00+02:00`, or UTC
with `Z`); the test replaces it whole (write a temporary file, then `os.replace`)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path


class SimulatorClockUnreadable(RuntimeError):
    """The clock file is missing or does not hold an instant with its offset."""


class FileSimulatorClock:
    """`clock()` is the instant the file holds now, in UTC; read at every call, so the
    test moves every process's time by rewriting one file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self) -> datetime:
        try:
            text = self.path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SimulatorClockUnreadable(f"simulator clock {self.path}: {exc.strerror}") from None
        return instant_of(text, self.path)


def instant_of(text: str, path: Path) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise SimulatorClockUnreadable(f"simulator clock {path}: {text[:40]!r} is not an ISO 8601 instant") from None
    if moment.tzinfo is None:  # a wall time without its offset would be a guess
        raise SimulatorClockUnreadable(f"simulator clock {path}: {text[:40]!r} has no UTC offset")
    return moment.astimezone(UTC)
