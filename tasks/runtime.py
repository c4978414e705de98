"""What tasks need from the outside world, handed over by the worker bootstrap.

Tasks never read settings or build adapters: `workers.bootstrap` builds a Runtime once per
process and configures it here.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from core.ports import PriceSource, RunLock
from core.values import D1Policy
from db.uow import UnitOfWorkFactory


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Runtime:
    uow: UnitOfWorkFactory
    price_sources: Sequence[PriceSource]
    run_lock: RunLock
    d1_policy: D1Policy = D1Policy.BUSINESS
    chunk_size: int = 1000
    stale_after: timedelta = timedelta(hours=1)
    clock: Callable[[], datetime] = field(default=utc_now)


_runtime: Runtime | None = None


def configure(runtime: Runtime) -> None:
    global _runtime
    _runtime = runtime


def runtime() -> Runtime:
    if _runtime is None:
        raise RuntimeError("hedgeops runtime is not configured (workers.bootstrap.configure sets it)")
    return _runtime
