"""Benchmark: the night under one roof. The nightly chain (prices, MTM, effectiveness,
postings) of N commodity contracts, F FX forwards and D designations runs on its real
worker while both MT5 terminals' workers sync A accounts every 30 s, one account breaching
its drawdown limit halfway through the night; all on one machine.

    python benchmarks/night.py [--contracts N] [--fx F] [--designations D] [--accounts A]
                               [--every S] [--database-url URL] [--redis-url URL] [--keep]

The workers are laid out as compose.yaml lays them: one node `-Q prices,valuation -c C`
(C = 2 here, the CPU count of this machine and a compose worker's default), and one
process per MT5 terminal, `-Q mt5.t1 -c 1` and `-Q mt5.t2 -c 1`. The benchmark plays beat:
it sends `hedgeops.nightly.run_nightly` and, every S seconds, each terminal's
`hedgeops.mt5.run_sync_cycle` as beat's schedule does (trigger beat, expiring after S).

In one run, on one scratch database seeded untimed (effectiveness.py's book of D
designations, F - D more FX forwards, mtm.py's N contracts, mt5_sync.py's A accounts of 20
positions), in this order:

0. untimed warm-ups: the valuation worker runs the effectiveness and postings steps of the
   book's last day; each MT5 worker syncs its warm-up account twice, closing once.
1. **quiet nightly** for 2026-11-19 (vendor file of D-1 in the drop folder, then the chain),
   nothing else running; each step's time in the ledger (its batch run's start to end) is
   that step's **reference**: the step alone, no MT5 load, in the same run.
2. The MT5 workers start (and warm up); then Q **quiet cycles** of both
   terminals one after the other (the last one with a breach on t2: the guard's quiet
   figure). The median is the cycles' reference.
3. **the night**: the nightly for 2026-11-20 (its own D-1 file), and from its trigger the
   MT5 cycles every S seconds until it ends; account 100000 (t1) breaches in the cycle
   nearest the middle of the night (estimated from the quiet nightly's wall time).

The guard's figure is guard.py's (the breaching reading seen, to the P-th close sent), read
from the database: from the `synced_at` of the breaching snapshot (stamped just before the
guard is entered) to the first `resolved_at` of its P close intents (the first attempts go
as one batch: stamped once the P-th `order_send` has returned, as the first answer is
recorded). Targets (issue 23): the nightly <= 1.3x the sum of its steps'
references; every MT5 cycle of the night <= 2x the quiet one; the guard's p99 <= 200 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Run as `python benchmarks/night.py`: sys.path[0] is benchmarks/, so its siblings import bare.
import effectiveness  # noqa: E402
import mt5_sync  # noqa: E402
from benchkit import (  # noqa: E402
    ADMIN_URL,
    headline,
    judged,
    process_tree,
    scratch_database,
    start_celery_worker,
    stop_worker,
    worker_env,
)
from celery import Celery, signature  # noqa: E402
from guard import TARGET_P99_MS, percentile  # noqa: E402
from mtm import PRICES, contract_values, run_of_task, wait_ready, wait_run  # noqa: E402
from sqlalchemy import select, text  # noqa: E402

from core.values import Job  # noqa: E402
from db import ledger  # noqa: E402
from db.engine import engine_for, session_factory  # noqa: E402
from db.models import BatchRun  # noqa: E402
from workers.celery_app import create_app  # noqa: E402
from workers.settings import load_settings  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/11"
QUIET_DAY, NIGHT_DAY = date(2026, 11, 19), date(2026, 11, 20)  # Thursday, Friday: D-1 18 and 19 Nov
EURUSD = {QUIET_DAY: "1.094500", NIGHT_DAY: "1.097800"}  # the D-1 reference rate of each night
NIGHTLY, CYCLE = "hedgeops.nightly.run_nightly", "hedgeops.mt5.run_sync_cycle"
STEPS = (Job.PRICES, Job.MTM, Job.EFFECTIVENESS, Job.POSTINGS)
NIGHT_LOGIN, QUIET_LOGIN = 100_000, 100_001  # mt5_sync.py's first accounts: t1, t2
TARGET_NIGHTLY, TARGET_CYCLE = 1.3, 2.0


@dataclass(frozen=True, slots=True)
class Options:
    contracts: int
    fx: int
    designations: int
    days: int
    accounts: int
    positions: int
    every: float
    quiet_cycles: int
    concurrency: int
    batch_nice: int
    database_url: str
    redis_url: str
    keep: bool
    timeout: float


def parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--contracts", type=int, default=1_000_000, help="active commodity contracts")
    parser.add_argument("--fx", type=int, default=50_000, help="FX forwards (the designated ones among them)")
    parser.add_argument("--designations", type=int, default=10_000, help="designations (effectiveness.py's book)")
    parser.add_argument("--days", type=int, default=250, help="daily MTM snapshots per leg seeded before the nights")
    parser.add_argument("--accounts", type=int, default=2000, help="MT5 accounts, half on each terminal")
    parser.add_argument("--positions", type=int, default=20, help="open positions per account (the breach closes them)")
    parser.add_argument("--every", type=float, default=30.0, help="seconds between two MT5 cycles (beat's period)")
    parser.add_argument("--quiet-cycles", type=int, default=3, help="quiet cycles before the night (>= 2)")
    parser.add_argument("--concurrency", type=int, default=2, help="processes of the prices,valuation worker")
    parser.add_argument(
        "--batch-nice",
        type=int,
        default=0,
        help="nice value of the prices,valuation worker's processes (0: as compose)",
    )
    parser.add_argument("--database-url", default=ADMIN_URL, help="PostgreSQL URL scratch databases are made through")
    parser.add_argument("--redis-url", default=REDIS_URL, help="Redis for broker and results (keys under a prefix)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for one nightly")
    a = parser.parse_args(argv)
    if a.fx < a.designations or a.quiet_cycles < 2 or a.accounts < 2:
        parser.error("--fx must be >= --designations, --quiet-cycles >= 2, --accounts >= 2")
    return Options(
        a.contracts,
        a.fx,
        a.designations,
        a.days,
        a.accounts,
        a.positions,
        a.every,
        a.quiet_cycles,
        a.concurrency,
        a.batch_nice,
        a.database_url,
        a.redis_url,
        a.keep,
        a.timeout,
    )


def mt5_options(opts: Options) -> mt5_sync.Options:
    return mt5_sync.Options(opts.accounts, opts.positions, 200, opts.database_url, opts.redis_url, False, opts.timeout)


# -- seeds ----------------------------------------------------------------------------------------

EXTRA_FX = """
INSERT INTO hedge_contracts (contract_ref, instrument, underlying, side, quantity, unit, entry_price, currency,
    trade_date, maturity_date, status, settlement_method, created_at, updated_at)
SELECT 'FXF-U-' || g, 'fx_forward', 'EURUSD', CASE WHEN g % 2 = 0 THEN 'sell' ELSE 'buy' END, 250000 + g * 10,
       'EUR', 1.09 + (g % 50) / 10000.0, 'USD', :first, :expiry, 'active', 'deliverable', now(), now()
FROM generate_series(1, :n) g
"""


def book_days(count: int) -> list[date]:
    """`count` weekdays ending the day before the quiet night: the seeded MTM history."""
    days, day = [], QUIET_DAY - timedelta(days=1)
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day -= timedelta(days=1)
    return days[::-1]


def seed(url: str, opts: Options) -> float:
    """The book (ids 1..D: effectiveness.py's relationships name them), the undesignated FX
    forwards, the commodity contracts (COPY) and the MT5 accounts; the seconds it took."""
    started = time.perf_counter()
    days = book_days(opts.days)
    effectiveness.seed(url, opts.designations, days)
    values = contract_values(opts.contracts, datetime.now(UTC))
    with engine_for(url).begin() as conn:
        expiry = days[-1] + timedelta(days=180)
        conn.execute(text(EXTRA_FX), {"first": days[0], "expiry": expiry, "n": opts.fx - opts.designations})
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY hedge_contracts ({', '.join(values[0])}) FROM STDIN") as copy:
            for value in values:
                copy.write_row(list(value.values()))
    del values
    mt5_sync.seed(url, mt5_options(opts))
    with engine_for(url).connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    return time.perf_counter() - started


def drop_prices(folder: Path, as_of: date) -> None:
    """The vendor file of the night's D-1: mtm.py's four LME prices and the EURUSD rate."""
    d1 = as_of - timedelta(days=1)
    lines = ["symbol,price_date,price,currency,unit,price_type"]
    lines += [f"{symbol},{d1},{price},USD,mt,cash_settlement" for symbol, price in PRICES.items()]
    lines.append(f"EURUSD,{d1},{EURUSD[as_of]},USD,EUR,reference")
    (folder / f"prices_{d1}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_scenario(path: Path, opts: Options, breach_cycle: int) -> None:
    """mt5_sync.py's scenario; some accounts get an equity path that breaches execution
    (10 %) at one step: QUIET_LOGIN in the last quiet cycle, NIGHT_LOGIN in the night's
    cycle `breach_cycle` (a step is one sync: one login), each warm-up account in its
    second sync."""
    world = mt5_sync.scenario(mt5_options(opts))
    steps = {QUIET_LOGIN: opts.quiet_cycles - 1, NIGHT_LOGIN: opts.quiet_cycles + breach_cycle}
    steps |= {login: 1 for login, _ in mt5_sync.WARM_UP}  # each worker's warm-up closes once too
    for account in world["accounts"]:
        if account["login"] in steps:
            account["equity"] = [10000.0] * steps[account["login"]] + [8700.0]
    path.write_text(json.dumps(world), encoding="utf-8")


# -- the workers ----------------------------------------------------------------------------------


def settings_of(opts: Options, url: str, folder: Path, prefix: str) -> dict[str, str]:
    """mt5_sync.py's settings (database, broker, prefix, scenario, terminals) and the nightly's."""
    sources = [{"name": "vendor_csv", "kind": "drop_folder", "path": str(folder), "symbols": ["LME-*=mt", "EURUSD"]}]
    return mt5_sync.settings_of(mt5_options(opts), url, folder.parent / "scenario.json", prefix) | {
        "price_sources": json.dumps(sources),
        "drop_settle_seconds": "0",
        "rate_curves": json.dumps({"USD": "0.045", "EUR": "0.025"}),
    }


class Workers:
    """The worker processes started, stopped together however the run ends."""

    def __init__(self, app: Celery, settings: dict[str, str], log: Path) -> None:
        self.app, self.env, self.log = app, worker_env(settings, MT5_PW=mt5_sync.PASSWORD), log
        self.procs: list[Any] = []

    def start(self, queues: str, concurrency: int, name: str, nice: int = 0) -> None:
        """A ready worker node; `nice`: its main and pool processes reniced (a pool process
        forked later inherits it from the main one)."""
        node = f"night-{name}-{uuid.uuid4().hex[:6]}@localhost"
        self.procs.append(start_celery_worker(queues, concurrency, node, self.env, self.log))
        wait_ready(self.app, self.procs[-1], node, self.log)
        for pid in process_tree([self.procs[-1].pid]) if nice else ():
            os.setpriority(os.PRIO_PROCESS, pid, nice)

    def stop(self) -> None:
        for proc in self.procs:
            stop_worker(proc)
        print(f"worker log: {self.log}")


# -- the nightly and the cycles -------------------------------------------------------------------


@dataclass(slots=True)
class Nightly:
    run_id: int
    sent: datetime
    wall: float = 0.0
    status: str = "running"
    steps: dict[str, float] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)


def send_nightly(url: str, as_of: date, folder: Path, timeout: float) -> Nightly:
    drop_prices(folder, as_of)
    sent = datetime.now(UTC)
    task_id = signature(NIGHTLY, kwargs={"as_of": as_of.isoformat(), "trigger": "beat"}).apply_async().id
    return Nightly(run_of_task(url, task_id, timeout), sent)


def warm_up(url: str, opts: Options) -> float:
    """Untimed: the effectiveness and postings steps of the book's last day, alone, so that
    the quiet nightly (the references) does not pay the pool's first imports and a cold
    cache where the night does not. The seconds it took."""
    started, day = time.perf_counter(), book_days(opts.days)[-1].isoformat()
    for task in (effectiveness.TASK, "hedgeops.postings.post_hedge_accounting_entries"):
        task_id = signature(task, kwargs={"as_of": day, "trigger": "manual"}).apply_async().id
        wait_run(url, run_of_task(url, task_id, opts.timeout), opts.timeout)
    return time.perf_counter() - started


def nightly_ended(url: str, night: Nightly) -> bool:
    """Read the run and its steps; True once it has ended."""
    with session_factory(url)() as s:
        run = ledger.get_run(s, night.run_id)
        if run.finished_at is None:
            return False
        night.wall, night.status = (_utc(run.finished_at) - night.sent).total_seconds(), run.status
        for step in ledger.children(s, night.run_id):
            if step.finished_at is not None:
                night.steps[step.job] = (_utc(step.finished_at) - _utc(step.started_at)).total_seconds()
                night.statuses[step.job] = step.status
    return True


def wait_nightly(url: str, night: Nightly, timeout: float) -> Nightly:
    deadline = time.monotonic() + timeout
    while not nightly_ended(url, night):
        if time.monotonic() > deadline:
            raise TimeoutError(f"nightly run {night.run_id} still running after {timeout:g} s")
        time.sleep(0.2)
    return night


@dataclass(slots=True)
class Cycle:
    sent: datetime
    task_ids: list[str]
    during_night: bool = False
    wall: float | None = None  # None: no run (the message expired, or the terminal's last cycle ran still)
    statuses: list[str] = field(default_factory=list)


def send_cycle(every: float | None) -> Cycle:
    """Both terminals' cycles, as beat sends them (trigger beat; expiring after the period)."""
    options = {} if every is None else {"expires": every}
    sent = datetime.now(UTC)
    ids = [
        signature(CYCLE, kwargs={"terminal": t, "trigger": "beat"}).apply_async(**options).id
        for t in mt5_sync.TERMINALS
    ]
    return Cycle(sent, ids)


def cycle_ended(url: str, cycle: Cycle, give_up: bool) -> bool:
    """Read the cycle's runs; True once both have ended (or, `give_up`, whatever ran)."""
    with session_factory(url)() as s:
        runs = list(s.scalars(select(BatchRun).where(BatchRun.task_id.in_(cycle.task_ids))))
    ended = [r for r in runs if r.finished_at is not None]
    if len(ended) == len(cycle.task_ids) or (give_up and len(ended) == len(runs)):
        if ended:
            cycle.wall = (max(_utc(r.finished_at) for r in ended) - cycle.sent).total_seconds()
        cycle.statuses = [r.status for r in ended]
        return True
    return False


def warm_up_mt5(url: str, opts: Options) -> None:
    """Untimed: two cycles of mt5_sync.py's warm-up account of each terminal, the second a
    breach, so that each worker has loaded its scenario, opened its connections and sent
    closes once before anything is timed (guard.py's untimed runs do the same); then those
    accounts leave the stage (mt5_sync.warm_up, whose cycle is the third)."""
    for _ in range(2):
        ids = [
            signature(CYCLE, kwargs={"terminal": t, "logins": [login]}).apply_async().id
            for login, t in mt5_sync.WARM_UP
        ]
        mt5_sync.wait_cycles(url, ids, opts.timeout)
    mt5_sync.warm_up(url, mt5_options(opts))


def quiet_cycles(url: str, opts: Options) -> list[Cycle]:
    cycles = []
    for _ in range(opts.quiet_cycles):
        cycles.append(send_cycle(None))
        while not cycle_ended(url, cycles[-1], give_up=False):
            time.sleep(0.05)
    return cycles


def the_night(url: str, opts: Options, folder: Path, breach_cycle: int) -> tuple[Nightly, list[Cycle]]:
    """The nightly, and a cycle every `every` seconds from its trigger while it runs (and
    until the breaching cycle has been sent); then every cycle sent waited for."""
    night = send_nightly(url, NIGHT_DAY, folder, opts.timeout)
    cycles: list[Cycle] = []
    began, ended = time.monotonic(), False
    while not ended or len(cycles) <= breach_cycle:
        if time.monotonic() >= began + len(cycles) * opts.every:
            cycles.append(send_cycle(opts.every))
            cycles[-1].during_night = not ended
        ended = ended or nightly_ended(url, night)
        if time.monotonic() > began + opts.timeout:
            raise TimeoutError(f"nightly run {night.run_id} still running after {opts.timeout:g} s")
        time.sleep(0.2)
    deadline = time.monotonic() + opts.timeout
    for cycle in cycles:  # no run of its own after 4 periods: it expired, or gave way to the terminal's running one
        while not cycle_ended(url, cycle, give_up=datetime.now(UTC) - cycle.sent > timedelta(seconds=4 * opts.every)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"MT5 cycle sent at {cycle.sent:%H:%M:%S} still running after {opts.timeout:g} s")
            time.sleep(0.1)
    return night, cycles


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# -- the guard ------------------------------------------------------------------------------------

BREACH = """
SELECT ci.created_at, ci.resolved_at, ci.status,
       (SELECT max(ps.synced_at) FROM position_snapshots ps JOIN mt5_accounts a ON a.id = ps.account_id
         WHERE a.login = :login AND ps.synced_at <= ci.created_at) AS seen
FROM close_intents ci WHERE ci.login = :login AND ci.kind = 'execution' ORDER BY ci.resolved_at NULLS LAST
"""


def breach_ms(url: str, login: int, positions: int) -> tuple[float | None, datetime | None]:
    """(breach seen to the P-th close sent in ms, the moment it was seen); None when fewer
    closed. The first attempts of a close-all are one batch (tasks.mt5.close_batch): every
    `order_send` returns before the first answer is recorded, so the earliest `resolved_at`
    of the P is the first clock read after the P-th close was sent."""
    with engine_for(url).connect() as conn:
        rows = conn.execute(text(BREACH), {"login": login}).all()
    resolved = [r for r in rows if r.resolved_at is not None]
    if len(resolved) < positions or rows[0].seen is None:
        print(f"guard of {login}: {len(resolved)} of {positions} closes resolved ({[r.status for r in rows]})")
        return None, None
    seen = min(_utc(r.seen) for r in rows)
    decided, sent = min(_utc(r.created_at) for r in rows), _utc(resolved[0].resolved_at)
    recorded = _utc(resolved[positions - 1].resolved_at)
    print(
        f"guard of {login}: breach seen -> intents committed {(decided - seen).total_seconds() * 1000:.1f} ms, "
        f"-> {positions} closes sent (first answer recorded) {(sent - seen).total_seconds() * 1000:.1f} ms, "
        f"-> {positions} answers recorded {(recorded - seen).total_seconds() * 1000:.1f} ms"
    )
    return (sent - seen).total_seconds() * 1000, seen


# -- report ---------------------------------------------------------------------------------------


def report_nightly(quiet: Nightly, night: Nightly) -> bool:
    print(f"{'nightly':<16}{'quiet s':>9}{'night s':>9}{'night / quiet':>15}  status (quiet / night)")
    for job in STEPS:
        q, n = quiet.steps.get(job, float("nan")), night.steps.get(job, float("nan"))
        print(f"  {job:<14}{q:9.2f}{n:9.2f}{n / q:15.2f}  {quiet.statuses.get(job)} / {night.statuses.get(job)}")
        if job is not Job.PRICES:  # the prices step reads one small file: milliseconds, too noisy to gate
            headline(f"night.{job}_over_quiet", n / q)
    references = sum(quiet.steps.get(job, float("nan")) for job in STEPS)
    print(f"  {'sum of steps':<14}{references:9.2f}{sum(night.steps.get(j, float('nan')) for j in STEPS):9.2f}")
    print(
        f"  {'whole chain':<14}{quiet.wall:9.2f}{night.wall:9.2f}{night.wall / quiet.wall:15.2f}  "
        f"{quiet.status} / {night.status}"
    )
    ratio = night.wall / references
    print(f"the night's nightly: {night.wall:.2f} s = {ratio:.2f} x the sum of its steps' quiet references")
    headline("night.nightly_over_steps", ratio)
    return judged(f"nightly <= {TARGET_NIGHTLY:g} x the sum of its steps' references", ratio <= TARGET_NIGHTLY)


def report_cycles(quiet: list[Cycle], night: list[Cycle], every: float) -> bool:
    reference = statistics.median(c.wall or float("nan") for c in quiet)
    print(
        "MT5 cycles (both terminals, from the send to the later run's end), quiet: "
        + ", ".join(f"{c.wall:.2f} s" for c in quiet if c.wall is not None)
        + f"; reference (median) {reference:.2f} s"
    )
    for n, cycle in enumerate(night):
        when = "during the night" if cycle.during_night else "after the night"
        wall = (
            "no run of its own" if cycle.wall is None else f"{cycle.wall:7.2f} s {cycle.wall / reference:5.2f} x quiet"
        )
        print(f"  cycle {n} sent at +{n * every:.0f} s ({when}): {wall} {', '.join(cycle.statuses)}")
    during = [c for c in night if c.during_night]
    worst = max((c.wall for c in during if c.wall is not None), default=float("nan"))
    lost = sum(1 for c in during if c.wall is None)
    print(f"the night's slowest cycle: {worst:.2f} s = {worst / reference:.2f} x quiet; cycles without a run: {lost}")
    headline("night.cycle_over_quiet", worst / reference)
    met = worst / reference <= TARGET_CYCLE and lost == 0
    return judged(f"MT5 cycles during the night <= {TARGET_CYCLE:g} x a quiet one", met)


def report_guard(quiet_ms: float | None, night_ms: float | None, seen: datetime | None, night: Nightly) -> bool:
    during = seen is not None and night.sent <= seen <= night.sent + timedelta(seconds=night.wall)
    at = (
        ""
        if seen is None
        else f", seen at +{(seen - night.sent).total_seconds():.1f} s of the night's {night.wall:.1f} s"
    )
    print(f"guard, breach seen -> {POSITIONS_NOTE}: quiet {_ms(quiet_ms)}, night {_ms(night_ms)}{at}")
    if quiet_ms is None or night_ms is None:
        return judged(f"guard p99 <= {TARGET_P99_MS:.0f} ms", False)
    p99 = percentile([night_ms], 99)  # one breach a night: its p99 is that breach
    headline("night.guard_over_quiet", night_ms / quiet_ms)
    return judged(f"guard p99 <= {TARGET_P99_MS:.0f} ms (during the night: {during})", p99 <= TARGET_P99_MS and during)


POSITIONS_NOTE = "last close sent (one breach each)"


def _ms(value: float | None) -> str:
    return "no breach closed" if value is None else f"{value:.1f} ms"


# -- the whole ------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Exit 0 when the three targets are met and both nightlies succeeded; figures either way."""
    opts = parse_args(argv)
    load = os.getloadavg()
    prefix = f"hedgeops-night-{uuid.uuid4().hex[:8]}:"
    with tempfile.TemporaryDirectory() as tmp, scratch_database(opts.database_url, opts.keep, "night") as url:
        folder = Path(tmp) / "incoming"
        folder.mkdir()
        seeding = seed(url, opts)
        settings = settings_of(opts, url, folder, prefix)
        write_scenario(Path(tmp) / "scenario.json", opts, 0)  # checked at start-up; rewritten before the MT5 workers
        app = create_app(load_settings(**settings | {"price_sources": json.loads(settings["price_sources"])}))
        workers = Workers(app, settings, Path(tempfile.gettempdir()) / f"hedgeops-bench-night-{prefix[15:23]}.log")
        try:
            workers.start("prices,valuation", opts.concurrency, "valuation", opts.batch_nice)
            warmed = warm_up(url, opts)
            quiet = wait_nightly(url, send_nightly(url, QUIET_DAY, folder, opts.timeout), opts.timeout)
            breach_cycle = round(0.65 * quiet.wall / opts.every)  # the middle of a night 1.3x the quiet one
            write_scenario(Path(tmp) / "scenario.json", opts, breach_cycle)
            for terminal in mt5_sync.TERMINALS:
                workers.start(f"mt5.{terminal}", 1, terminal)
            warm_up_mt5(url, opts)
            calm = quiet_cycles(url, opts)
            night, cycles = the_night(url, opts, folder, breach_cycle)
        finally:
            workers.stop()
        quiet_ms, _ = breach_ms(url, QUIET_LOGIN, opts.positions)
        night_ms, seen = breach_ms(url, NIGHT_LOGIN, opts.positions)
    print(
        f"night benchmark: {opts.contracts} commodity contracts, {opts.fx} FX forwards, {opts.designations} "
        f"designations x {opts.days} days; {opts.accounts} MT5 accounts x {opts.positions} positions on "
        f"{len(mt5_sync.TERMINALS)} terminals every {opts.every:g} s; workers: prices,valuation -c "
        f"{opts.concurrency}{f' (nice {opts.batch_nice})' if opts.batch_nice else ''}, mt5.t1 -c 1, mt5.t2 -c 1; "
        f"seeding took {seeding:.1f} s, the valuation worker's "
        f"warm-up (effectiveness and postings of the book's last day) {warmed:.1f} s (neither measured); "
        f"load average {load[0]:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
    )
    results = [report_nightly(quiet, night), report_cycles(calm, cycles, opts.every)]
    results.append(report_guard(quiet_ms, night_ms, seen, night))
    succeeded = quiet.status == night.status == "succeeded"
    return 0 if all(results) and succeeded else 1


if __name__ == "__main__":
    sys.exit(main())
