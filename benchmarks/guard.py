"""Benchmark: the drawdown guard, from the breach observed to the 20th close order sent, on
the simulator, embedded (eager Celery, in-process), SQLite by default or PostgreSQL.

    python benchmarks/guard.py [--runs N] [--positions P] [--warm-up W]
                               [--database sqlite|postgresql] [--database-url URL] [--keep]
                               [--no-gc-freeze] [--back-to-back] [--orders-per-second R]

Each run is a fresh account (its own login, so a fresh guard state) with P open EURUSD
positions whose equity path is 10000.00, then 8900.00: a first sync sets the peak, the
second breaches execution ((10000 - 8900) / 10000 * 100 = 11 % >= 10 %). The figure of a run
is the time from the moment the guard sees the breaching reading (`tasks.mt5.guard
.guard_account` is entered, inside the sync of the breaching step) until the simulator's
journal holds the P-th filled close of that account (the moment that `order_send`
returns). In between: the day's deals, the state loaded and locked, the decision, the state,
alerts and P close intents committed, then per close a claim committed, a fresh tick,
`order_send` and the answer committed.

The latch (issue 19): after the breach the trader opens three more positions; the run's
third sync, of the tripped account, closes them. Timed the same way: from the entry of
`guard_account` in that sync to the third filled close in the journal (the deals and the
state read, the open positions and pending orders read, the locked decision, three
intents and their alerts committed, then the closes).

Every order goes through the terminal's order throttle (HEDGEOPS_MT5_ORDERS_PER_SECOND,
default 20 in any one second): the report gives the rate and the time it made the closes
wait in all (0 while a close-all stays within the rate). Each timed sync starts once the
throttle's window is clear (a pause of one second before it): the figure is one breach on a
terminal, not breaches of several accounts within a second (those share the window: 20
orders per second whoever sends them; `--back-to-back` measures that). `--orders-per-second R`
sets the throttle's rate: run_all --quick gives it a rate its runs never reach and drops the
pause (the closes still pass the throttle, which never makes them wait: the report says so).

The start-up heap is frozen before the runs (`gc.freeze()`, as a worker does at its start:
workers.celery_app.freeze_start_up_heap); `--no-gc-freeze` leaves it to the collector. Beside
each figure, the CPU time this process spent from the breach to the last close and the
garbage collection within it: what the span was not on its CPU, it waited (for the
scheduler of a loaded machine, the database, the disk).

The reference, in the same run: P bare `order_send` calls to the same simulator closing
the P positions of a twin account, the requests built beforehand (the floor: the broker's
side of P closes, no database, no guard). Figures: p50, p99 and max over N runs, and the
ratio of each to the reference's same percentile. Target (issue 9): p99 <= 200 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from benchkit import ADMIN_URL, headline, judged, scratch_database

from core.mt5.accounts import AccountSpec
from core.mt5.closing import close_request
from core.mt5.guard_policy import GuardPolicy
from db import migrate
from db.engine import dispose_all
from db.mt5.accounts import add_account
from tasks.mt5.ports import mt5_ports as tasks_mt5_ports
from workers.adapters.mt5.credentials import EnvOrFileCredentials
from workers.adapters.mt5.scenario import Scenario
from workers.adapters.mt5.simulator import SimulatedMt5Gateway
from workers.bootstrap import configure
from workers.celery_app import freeze_start_up_heap

TARGET_P99_MS = 200.0
PASSWORD = "bench-password"
POLICY = GuardPolicy(warning_pct=Decimal("5"), execution_pct=Decimal("10"))
#: Positions the trader opens after the breach (step 2: the run's third sync closes them).
REOPENED = 3


@dataclass(frozen=True, slots=True)
class Options:
    runs: int
    positions: int
    warm_up: int
    database: str
    database_url: str
    keep: bool
    gc_freeze: bool
    back_to_back: bool
    orders_per_second: int | None


def parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=50, help="timed runs (one fresh account each)")
    parser.add_argument("--positions", type=int, default=20, help="open positions the breach closes")
    parser.add_argument("--warm-up", type=int, default=3, help="untimed runs first")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--database-url", default=ADMIN_URL, help="PostgreSQL server the scratch database is made on")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument(
        "--no-gc-freeze",
        dest="gc_freeze",
        action="store_false",
        help="leave the start-up heap to the collector (a worker freezes it: workers.celery_app.freeze_start_up_heap)",
    )
    parser.add_argument(
        "--back-to-back", action="store_true", help="no pause for the throttle's window before a timed sync"
    )
    parser.add_argument(
        "--orders-per-second",
        type=int,
        default=None,
        help="HEDGEOPS_MT5_ORDERS_PER_SECOND, the terminal's order throttle (default: the setting's)",
    )
    a = parser.parse_args(argv)
    return Options(
        a.runs,
        a.positions,
        a.warm_up,
        a.database,
        a.database_url,
        a.keep,
        a.gc_freeze,
        a.back_to_back,
        a.orders_per_second,
    )


# -- the world -------------------------------------------------------------------------------


def logins(opts: Options) -> list[int]:
    return [100_000 + i for i in range(opts.warm_up + opts.runs)]


def twin(login: int) -> int:
    """The reference account of a run: the same positions, closed by bare order_send calls."""
    return login + 100_000


def scenario(opts: Options) -> Scenario:
    accounts = [
        {
            "login": login,
            "password": PASSWORD,
            "terminal": "t1",
            "balance": 10000.0,
            "equity": [10000.0, 8900.0],
            "positions": [
                {"ticket": login * 100 + n, "symbol": "EURUSD", "volume": 0.1, "price_open": 1.085, "magic": 7}
                for n in range(opts.positions)
            ]
            + [
                {
                    "ticket": login * 100 + 90 + n,
                    "symbol": "EURUSD",
                    "volume": 0.1,
                    "price_open": 1.085,
                    "magic": 7,
                    "from_step": 2,
                }
                for n in range(REOPENED)
            ],
        }
        for base in logins(opts)
        for login in (base, twin(base))
    ]
    return Scenario.model_validate(
        {"symbols": {"EURUSD": {"digits": 5, "point": 0.00001, "bid": [1.086]}}, "accounts": accounts}
    )


@contextlib.contextmanager
def database(opts: Options) -> Iterator[str]:
    if opts.database == "postgresql":
        with scratch_database(opts.database_url, opts.keep, "guard benchmark") as url:
            yield url
        return
    with tempfile.TemporaryDirectory(prefix="hedgeops-guard-bench-") as folder:
        url = f"sqlite:///{Path(folder) / 'hedgeops.db'}"
        migrate.upgrade(url)
        yield url
        dispose_all()


def start(url: str, opts: Options) -> SimulatedMt5Gateway:
    """Settings, logging and the eager Celery app over `url`; the bundles with the simulator
    as terminal t1, the guard's policy, and the accounts in mt5_accounts."""
    from workers.bootstrap import build_bundles
    from workers.celery_app import create_app
    from workers.settings import load_settings

    rate = {} if opts.orders_per_second is None else {"mt5_orders_per_second": opts.orders_per_second}
    settings = load_settings(
        database_url=url, broker_url=None, result_backend=None, log_level="ERROR", guard_webhook_url=None, **rate
    )
    create_app(settings)
    gateway = SimulatedMt5Gateway(scenario(opts), "t1")
    built = build_bundles(settings)
    mt5 = replace(
        built.mt5,
        gateways=lambda terminal: gateway,
        guard_policy=POLICY,
        credentials=EnvOrFileCredentials({"MT5_PW": PASSWORD}),
    )
    configure(replace(built, mt5=mt5))
    rt = built.shared
    with rt.uow() as uow:
        for login in logins(opts):
            add_account(
                uow.session,
                AccountSpec(
                    login=login,
                    server="Sim-Demo",
                    terminal="t1",
                    currency="USD",
                    magic_numbers=(7,),
                    credential_ref="env:MT5_PW",
                ),
                now=rt.clock(),
            )
        uow.commit()
    return gateway


# -- one run ---------------------------------------------------------------------------------


class Stopwatch:
    """Wraps the guard's entry and the gateway's order_send: the breach seen, the P-th fill.
    Beside the wall time of that span it keeps the CPU time this process spent in it and
    the time the garbage collector ran in it (gc.callbacks): a slow run whose CPU time is
    not slow was waiting (for the scheduler of a loaded machine, the database, the disk)."""

    def __init__(self, gateway: SimulatedMt5Gateway, positions: int) -> None:
        import tasks.mt5.guard as guard

        self.guard, self.gateway, self.positions = guard, gateway, positions
        self.armed = False
        self.seen: float | None = None
        self.last_fill: float | None = None
        self.first_fill: float | None = None
        self.fills = 0
        self.cpu_seen = self.cpu_last = 0.0
        self.gc_s, self._gc_began = 0.0, 0.0
        gc.callbacks.append(self._gc)
        self._guard_account, self._order_send = guard.guard_account, gateway.order_send
        guard.guard_account = self._timed_guard  # type: ignore[assignment]
        gateway.order_send = self._timed_send  # type: ignore[method-assign]

    def arm(self, positions: int) -> None:
        self.armed, self.seen, self.first_fill, self.last_fill, self.fills = True, None, None, None, 0
        self.positions, self.gc_s = positions, 0.0

    def _timed_guard(self, *args: Any, **kwargs: Any) -> Any:
        if self.armed and self.seen is None:
            self.seen, self.cpu_seen = time.perf_counter(), time.process_time()
        return self._guard_account(*args, **kwargs)

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_began = time.perf_counter()
        elif self.armed and self.seen is not None and self.last_fill is None:
            self.gc_s += time.perf_counter() - self._gc_began

    def _timed_send(self, request: Any) -> Any:
        result = self._order_send(request)
        if self.armed and self.gateway.journal[-1]["filled"]:
            self.fills += 1
            if self.fills == 1:
                self.first_fill = time.perf_counter()
            if self.fills == self.positions:
                self.last_fill, self.cpu_last = time.perf_counter(), time.process_time()
        return result

    def elapsed_ms(self) -> tuple[float, float]:
        """(breach seen to the first close sent, to the P-th), ms."""
        if self.seen is None or self.first_fill is None or self.last_fill is None:
            raise RuntimeError(f"the breach closed {self.fills} of {self.positions} positions")
        return (self.first_fill - self.seen) * 1000, (self.last_fill - self.seen) * 1000

    def spent_ms(self) -> tuple[float, float]:
        """(CPU time of this process, garbage collection) from the breach seen to the P-th fill, ms."""
        return (self.cpu_last - self.cpu_seen) * 1000, self.gc_s * 1000


def sync(login: int) -> str:
    from db import ledger
    from tasks.mt5.cycle import run_sync_cycle
    from tasks.ports import ports

    started = run_sync_cycle.apply_async(kwargs={"terminal": "t1", "trigger": "manual", "logins": [login]}).get()
    with ports().uow() as uow:
        run = ledger.get_run(uow.session, started["batch_run_id"])
        return str(run.status) if run.status == "succeeded" else f"{run.status}: {run.error}"


def guarded_run(watch: Stopwatch, login: int, opts: Options) -> tuple[float, float, float, float, float, float]:
    """(breach to the first close, to the P-th, the whole breaching sync, the tripped
    account's sync to its third close of the positions opened since, the CPU time and the
    garbage collection within breach to the P-th), ms."""
    watch.armed = False
    if (status := sync(login)) != "succeeded":  # the peak
        raise RuntimeError(f"the first sync of {login} ended {status}")
    settle(opts)
    watch.arm(opts.positions)
    began = time.perf_counter()
    status = sync(login)
    whole = (time.perf_counter() - began) * 1000
    watch.armed = False
    if status != "succeeded":
        raise RuntimeError(f"the breaching sync of {login} ended {status}")
    first, last = watch.elapsed_ms()
    cpu, collected = watch.spent_ms()
    settle(opts)
    watch.arm(REOPENED)
    if (status := sync(login)) != "succeeded":  # tripped: the positions opened since are closed
        raise RuntimeError(f"the tripped sync of {login} ended {status}")
    watch.armed = False
    return first, last, whole, watch.elapsed_ms()[1], cpu, collected


def settle(opts: Options) -> None:
    """Wait until the orders sent before leave the throttle's window (one second)."""
    if not opts.back_to_back:
        time.sleep(1.0)


def reference_run(gateway: SimulatedMt5Gateway, login: int, send: Any) -> float:
    """P bare order_send calls closing the twin's positions, requests built first; ms."""
    if not gateway.initialize() or not gateway.login(login, PASSWORD, "Sim-Demo"):
        raise RuntimeError(f"reference login {login} failed: {gateway.last_error()}")
    positions = gateway.positions_get() or ()
    tick = gateway.symbol_info_tick("EURUSD")
    info = gateway.symbol_info("EURUSD")
    assert tick is not None and info is not None
    requests = [close_request(p, tick, info.filling_mode, 7, 20, f"REF:{login}:{p.ticket}") for p in positions]
    began = time.perf_counter()
    for request in requests:
        send(request)
    elapsed = (time.perf_counter() - began) * 1000
    filled = sum(1 for o in gateway.journal[-len(requests) :] if o["filled"])
    if filled != len(requests):
        raise RuntimeError(f"reference closed {filled} of {len(requests)}")
    return elapsed  # left connected: the sync's link (kept per process) goes on using it


# -- figures ---------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile, nearest rank (p99 of 50 runs: the 50th value, the slowest)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def report(
    opts: Options,
    first: list[float],
    breach: list[float],
    whole: list[float],
    floor: list[float],
    latch: list[float],
    throttle: tuple[int, float],
    spent: list[tuple[float, float]],
) -> bool:
    print(
        f"guard benchmark: {opts.runs} runs (after {opts.warm_up} untimed), {opts.positions} positions closed "
        f"per breach, simulator, embedded on {opts.database}{'' if opts.gc_freeze else ', start-up heap not frozen'}"
        f"{', back to back' if opts.back_to_back else ''}"
    )
    print(f"{'':<34}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}{'mean ms':>9}")
    for label, values in (
        ("breach seen -> first close sent", first),
        ("breach seen -> last close sent", breach),
        ("whole breaching sync", whole),
        (f"tripped sync -> {REOPENED}rd new close sent", latch),
        (f"reference: {opts.positions} bare order_send", floor),
        ("  CPU of this process, breach->last", [cpu for cpu, _ in spent]),
        ("  garbage collection, breach->last", [collected for _, collected in spent]),
    ):
        print(
            f"{label:<34}{percentile(values, 50):9.1f}{percentile(values, 90):9.1f}{percentile(values, 99):9.1f}"
            f"{max(values):9.1f}"
            f"{statistics.fmean(values):9.1f}"
        )
    p50, p99 = percentile(breach, 50), percentile(breach, 99)
    print(
        f"ratio to the reference: p50 {p50 / percentile(floor, 50):.0f}x, p99 {p99 / percentile(floor, 99):.0f}x;"
        f" per close (p50): {p50 / opts.positions:.2f} ms against {percentile(floor, 50) / opts.positions:.3f} ms"
    )
    slowest = max(range(len(breach)), key=breach.__getitem__)
    cpu, collected = spent[slowest]
    print(
        f"slowest run, breach -> last close: {breach[slowest]:.1f} ms, of which CPU of this process {cpu:.1f} ms"
        f" (garbage collection {collected:.1f} ms) and {breach[slowest] - cpu:.1f} ms not on its CPU"
        " (waiting for the scheduler, the database, the disk)"
    )
    rate, waited = throttle
    print(
        f"order throttle: {rate or 'no limit'} orders/s per terminal; the closes waited {waited * 1000:.1f} ms in all"
    )
    headline(f"guard_{opts.database}.p50_over_reference", p50 / percentile(floor, 50))
    return judged(f"p99 <= {TARGET_P99_MS:.0f} ms", p99 <= TARGET_P99_MS)


def main(argv: Sequence[str] | None = None) -> int:
    """Exit 0 when the target is met; the figures are printed either way."""
    opts = parse_args(argv)
    with database(opts) as url:
        gateway = start(url, opts)
        bare_send = gateway.order_send
        watch = Stopwatch(gateway, opts.positions)
        if opts.gc_freeze:  # as a worker does at its start
            freeze_start_up_heap()
        first: list[float] = []
        breach: list[float] = []
        whole: list[float] = []
        floor: list[float] = []
        latch: list[float] = []
        spent: list[tuple[float, float]] = []
        for i, login in enumerate(logins(opts)):
            to_first, to_last, sync_ms, latch_ms, cpu_ms, gc_ms = guarded_run(watch, login, opts)
            reference_ms = reference_run(gateway, twin(login), bare_send)
            if i >= opts.warm_up:
                first.append(to_first), breach.append(to_last), whole.append(sync_ms), floor.append(reference_ms)
                latch.append(latch_ms), spent.append((cpu_ms, gc_ms))
        throttle = tasks_mt5_ports().order_throttle("t1")
        figures = (getattr(throttle, "rate", 0), getattr(throttle, "waited", 0.0))
        return 0 if report(opts, first, breach, whole, floor, latch, figures, spent) else 1


if __name__ == "__main__":
    sys.exit(main())
