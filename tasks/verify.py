"""`hedgeops verify`: recompute every snapshot of a date from its stored inputs."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from itertools import islice
from multiprocessing import get_context

from sqlalchemy.orm import Session

from core.hedging.valuation_plan import FxValuationPlan
from core.verify import Finding, check_fx_snapshot
from db.verify import (
    SnapshotRow,
    StoredPrice,
    check_rows,
    fx_snapshots_of,
    price_id_of,
    restated_price_keys,
    snapshot_count,
    snapshot_id_range,
    snapshot_rows,
    with_prices,
)
from tasks.hedging.ports import hedging_ports
from tasks.hedging.posting_work import Book
from tasks.hedging.verify_postings import verify_entries
from tasks.ports import ports

#: Snapshots read and checked at a time.
BATCH = 5_000
#: From this many snapshots on, they are recomputed in processes, each reading and checking
#: a range of snapshot ids of its own (core is pure; a process has its own connection, made
#: after fork); below it the processes' start would cost more than they save.
PARALLEL_FROM = 50_000
#: Id ranges per process: the last ranges to finish are short.
RANGES_PER_PROCESS = 4

#: What recomputing a range gives: snapshots checked, findings in id order, and the keys of
#: the snapshots that used a restated price, per price key.
Checked = tuple[int, list[Finding], dict[str, list[str]]]


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
        restated = restated_price_keys(uow.session)
        price_keys: dict[str, list[str]] = {}
        workers = recompute_workers(result.snapshots)
        for checked, found, keys in recomputed(uow.session, as_of, restated, workers):
            result.checked += checked
            result.findings += found
            for price_key, snapshots in keys.items():
                price_keys.setdefault(price_key, []).extend(snapshots)
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
            for price_key in restated.intersection(fx.price_keys):
                price_keys.setdefault(price_key, []).append(fx.key)
        for price_key in sorted(price_keys):
            result.findings += [
                Finding(key, "price_restated", f"{price_key} was sent again with another value")
                for key in price_keys[price_key]
            ]
        result.entries, entry_findings = verify_entries(uow.session, book, as_of)
        result.findings += entry_findings
    return result


def recompute_workers(snapshots: int, threshold: int = PARALLEL_FROM) -> int:
    """Processes that read and recompute: none below `threshold` snapshots, else one per CPU
    (the command's own process only waits for them). At a million on two cores, two
    processes took a fifth less wall time than one (benchmarks/README.md, verify.py)."""
    return 0 if snapshots < threshold else (os.cpu_count() or 1)


def recomputed(session: Session, as_of: date, restated: set[str], workers: int) -> Iterator[Checked]:
    """The commodity snapshots of `as_of` recomputed in id order: here, through `session`,
    or with `workers`, by that many forked processes, each reading and checking ranges of
    snapshot ids through a connection of its own (sending the rows from one reader cost as
    much as recomputing them: py-spy, issue 23), the results gathered in id order."""
    bounds = snapshot_id_range(session, as_of)
    if workers <= 0 or bounds is None:
        yield check_range(session, as_of, restated, None)
        return
    with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
        ranges = id_ranges(bounds, workers * RANGES_PER_PROCESS)
        yield from pool.map(partial(check_range_apart, as_of, restated), ranges)


def id_ranges(bounds: tuple[int, int], parts: int) -> list[tuple[int, int]]:
    """`bounds` (both ends included) cut into at most `parts` ranges of about equal width."""
    low, high = bounds
    step = max(1, -(-(high - low + 1) // parts))
    return [(start, min(start + step - 1, high)) for start in range(low, high + 1, step)]


def check_range(session: Session, as_of: date, restated: set[str], ids: tuple[int, int] | None) -> Checked:
    checked, found, keys = 0, [], dict[str, list[str]]()
    prices: dict[int, StoredPrice] = {}
    for batch in batched(snapshot_rows(session, as_of, ids), BATCH):
        with_prices(session, batch, prices)
        checked += len(batch)
        found += check_rows(batch, as_of, prices)
        for row in batch:
            if (price_key := prices[price_id_of(row)].key) in restated:
                keys.setdefault(price_key, []).append(row[0])
    return checked, found, keys


def check_range_apart(as_of: date, restated: set[str], ids: tuple[int, int]) -> Checked:
    """check_range in a process of its own: its own unit of work (db.engine makes the
    process's engine after the fork)."""
    with ports().uow() as uow:
        return check_range(uow.session, as_of, restated, ids)


def batched(items: Iterable[SnapshotRow], size: int) -> Iterator[list[SnapshotRow]]:
    """`size` at a time (itertools.batched is Python 3.12's)."""
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch
