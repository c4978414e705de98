"""What a run records (`batch_runs.details`), as typed parts of one JSON object.

Each part reads its own keys of the object (`from_details`, ignoring the others' keys) and
writes only the keys it was given (`as_details`): a run's details are the parts its steps
merged in, the run lifecycle's (its scope), the plan of a chunked job, what went missing.
The JSON shape is the one rows stored before these models have; so is every key's absence
(a price run writes `price_missing`, an MTM run does not, and a summary says so).

The shared parts are here; a domain's live in its room (core.hedging.run_details,
core.mt5.cycle_details), since shared pieces may not import a domain room.

Version: a `details_version` key; absent means 1. Version 1 writes none, so rows stored
before versions and rows written now read alike; a later version writes its number, and
this code refuses a number it does not know rather than misread it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from pydantic import BaseModel, ConfigDict

from core.values import D1Policy

#: The key that holds the version of a run's details (absent: 1).
VERSION_KEY = "details_version"
#: The newest version this code reads and the one it writes.
DETAILS_VERSION = 1


class UnknownDetailsVersion(ValueError):
    """A run's details of a version newer than this code knows."""


def details_version(details: Mapping[str, Any] | None) -> int:
    version = (details or {}).get(VERSION_KEY, 1)
    if not isinstance(version, int) or not 1 <= version <= DETAILS_VERSION:
        raise UnknownDetailsVersion(f"run details of version {version!r}: this code reads 1 to {DETAILS_VERSION}")
    return version


class DetailsPart(BaseModel):
    """A typed part of a run's details. Written keys are those set (given, or read back):
    a key absent stays absent, a key stored as null stays null."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    @classmethod
    def from_details(cls, details: Mapping[str, Any] | None) -> Self:
        details_version(details)
        return cls.model_validate({k: v for k, v in (details or {}).items() if k in cls.model_fields})

    def as_details(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True)


class StoredScope(BaseModel):
    """The guard part of a run's scope (core.ledger.RunScope.stored), when not a job's own."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    lock_name: str
    family: str
    any_date: bool = False
    exceptions_error: str | None = None


class MissingPrice(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    symbol: str
    price_date: str | None = None  # ISO date, as stored


class FailedSource(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    source: str
    error: str | None = None


class FileRead(BaseModel):
    """A batch a prices run read: its file and source, its counts, and why it was
    quarantined if it was."""

    model_config = ConfigDict(frozen=True, extra="allow")

    file: str
    source: str
    processed: int = 0
    created: int = 0
    existing: int = 0
    conflicts: int = 0
    exceptions: int = 0
    quarantined: str | None = None


class StepRun(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    batch_run_id: int
    status: str


class RunRecord(DetailsPart):
    """What any run may record besides its counts: its scope (a cycle's; a nightly job's
    is implied), the price files it read, the D-1 prices missing and the sources that failed
    (shortfalls: not done without being counted as exceptions), what its exceptions were
    (`failures`, e.g. each failed login and why), and a nightly's steps by job. None: not
    recorded (a list stored as null reads as None too)."""

    scope: StoredScope | None = None
    files: list[FileRead] | None = None
    price_missing: list[MissingPrice] | None = None
    failed_sources: list[FailedSource] | None = None
    failures: list[str] | None = None
    steps: dict[str, StepRun] | None = None

    def shortfalls(self) -> int:
        return len(self.price_missing or []) + len(self.failed_sources or [])


class MtmPlan(DetailsPart):
    """The policy and calendars an MTM run values every chunk with (and `verify` later),
    not the process's settings; and its chunk size. The FX part of the plan is the
    hedging room's (core.hedging.valuation_plan.FxValuationPlan)."""

    d1_policy: D1Policy
    symbol_calendars: dict[str, str] = {}
    chunk_size: int | None = None
