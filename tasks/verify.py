"""`hedgeops verify`: recompute every snapshot of a date from its stored inputs."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from itertools import islice
from multiprocessing import get_context
from typing import TypeVar

from core.hedging.valuation_plan import FxValuationPlan
from core.verify import Finding, check_fx_snapshot
from db.verify import (
    SnapshotRow,
    check_rows,
    fx_snapshots_of,
    price_key_of,
    restated_price_keys,
    snapshot_count,
    snapshot_rows,
)
from tasks.hedging.ports import hedging_ports
from tasks.hedging.posting_work import Book
from tasks.hedging.verify_postings import verify_entries
from tasks.ports import ports

T = TypeVar("T")

#: Snapshots a recomputing process takes at a time.
BATCH = 5_000
#: From this many snapshots on, they are recomputed in processes beside the one that reads
#: them (core is pure: a batch goes out as plain values, its findings come back); below it
#: the processes' start would cost more than they save.
PARALLEL_FROM = 50_000


@dataclass(slots=True)
class Verification:
    as_of: date
    snapshots: int = 0
    checked: int = 0
    entries: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


def verify_date(as_of: date) -> Verification:
    """Check payload hashes, recompute from the contract (or hedged item) and the exact price
    rows used (FX: with the curves, method and functional currency its run recorded), and
    flag snapshots whose price has been restated since (a conflict on its key); then D's hedge
    accounting entries recomputed from the stored snapshots (tasks.hedging.verify_postings)."""
    result = Verification(as_of)
    hedging = hedging_ports()
    book = Book(hedging.chart, hedging.policy.functional_currency)
    with ports().uow() as uow:
        result.snapshots = snapshot_count(uow.session, as_of)
        price_keys: dict[str, list[str]] = {}

        def rows() -> Iterator[SnapshotRow]:
            for row in snapshot_rows(uow.session, as_of):
                price_keys.setdefault(price_key_of(row), []).append(row[0])
                yield row

        workers = recompute_workers(result.snapshots)
        for checked, found in recomputed(rows(), as_of, workers, check_rows):
            result.checked += checked
            result.findings += found
        for fx in fx_snapshots_of(uow.session, as_of):
            result.checked += 1
            result.findings += check_fx_snapshot(
                fx.key,
                fx.payload,
                fx.sha256,
                fx.leg,
                fx.object_type,
                as_of,
                fx.prices,
                FxValuationPlan.from_details(fx.plan),
            )
            for price_key in fx.price_keys:
                price_keys.setdefault(price_key, []).append(fx.key)
        for price_key in sorted(restated_price_keys(uow.session, list(price_keys))):
            result.findings += [
                Finding(key, "price_restated", f"{price_key} was sent again with another value")
                for key in price_keys[price_key]
            ]
        result.entries, entry_findings = verify_entries(uow.session, book, as_of)
        result.findings += entry_findings
    return result


def recompute_workers(snapshots: int, threshold: int = PARALLEL_FROM) -> int:
    """Processes that recompute beside the reader: none below `threshold` snapshots, else one
    per CPU but the reader's (at least one)."""
    return 0 if snapshots < threshold else max(1, (os.cpu_count() or 1) - 1)


def recomputed(
    items: Iterable[T], as_of: date, workers: int, check: Callable[[list[T], date], list[Finding]]
) -> Iterator[tuple[int, list[Finding]]]:
    """(items checked, findings) per batch of `check`, in the order read. With `workers`,
    the batches (plain values) go to that many forked processes (`check` is core.verify's
    recomputation: no connection, clock or log is used there), at most two a process in
    flight so memory stays bounded; the reader keeps reading meanwhile. Without, they are
    checked here."""
    if workers <= 0:
        for batch in batched(items, BATCH):
            yield len(batch), check(batch, as_of)
        return
    with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
        pending: list[tuple[int, Future[list[Finding]]]] = []
        for batch in batched(items, BATCH):
            pending.append((len(batch), pool.submit(check, batch, as_of)))
            while len(pending) > 2 * workers:
                size, future = pending.pop(0)
                yield size, future.result()
        for size, future in pending:
            yield size, future.result()


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """`size` at a time (itertools.batched is Python 3.12's)."""
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch
