"""One chunk of a terminal's cycle: each account is read from the terminal, snapshotted and
reconciled; the results are written in one transaction; the chunk counts itself into the
cycle when every account of it is done.

Three steps, so that no transaction stays open while a terminal is called: plan (what is
still to do: an account whose snapshot of this sync exists is done), read (the terminal),
write (the write path, the ledger). An account that fails gets a snapshot row with the
error; the chunk then raises AccountsFailed for the task's retry with back-off, and the
retry reads only the accounts still to do. On the last attempt the failures are final:
counted as exceptions, and the cycle ends failed."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Annotated, Any

import structlog
from pydantic import BaseModel, ConfigDict, Field

from core import keys
from core.mt5.accounts import TerminalName
from core.mt5.gateway import Mt5Error
from core.mt5.ports import SyncObserver
from core.mt5.reconcile import Rules, reconcile
from core.mt5.snapshot import snapshot_figures
from core.mt5.values import Account, AccountMode, ExpectedPosition
from core.run_details import RunRecord
from db import ledger
from db.models import BatchRun
from db.mt5.accounts import accounts_by_ids, open_expected
from db.mt5.models import PositionSnapshot
from db.mt5.results import AccountFailed, AccountSynced, failed_for_good, stored_keys, write_sync_results
from db.uow import SqlAlchemyUnitOfWork
from tasks import coverage, fanin, names, runs
from tasks.base import TRANSIENT_ERRORS, JobTask, Retry, job_task
from tasks.mt5.alerts import deliver_notifications
from tasks.mt5.coverage import CYCLE_COVERAGE
from tasks.mt5.guard import guard_read, resume_account
from tasks.mt5.guard_chunk import GuardChunk
from tasks.mt5.ports import Mt5Ports, mt5_ports
from tasks.mt5.queues import check_queue, terminal_queue
from tasks.mt5.reading import connection, read_account
from tasks.ports import Ports, ports

log = structlog.get_logger(__name__)


class ChunkRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: int
    terminal: TerminalName
    chunk_no: Annotated[int, Field(ge=0)]
    account_ids: Annotated[list[int], Field(min_length=1, max_length=10_000)]


class AccountsFailed(Exception):
    """Some accounts of the chunk failed this attempt; the task retries them with back-off."""

    retryable = True


#: An account that failed (terminal unreachable, authorization failed, IPC timeout) is
#: retried with its chunk after 2, 4, 8, 16, 32 s (no jitter: a retry is never "in 0s";
#: capped at 60), 5 times; after that its failure is final.
SYNC_RETRY = Retry(on=(*TRANSIENT_ERRORS, AccountsFailed), max_retries=5, backoff=2, backoff_max=60, jitter=False)
#: Failures no retry mends (a credential that cannot be read, no gateway in the process):
#: final at once, and their accounts are not read again in the cycle.
PERMANENT_KINDS = frozenset({"credential_unavailable", "gateway_unavailable"})


@dataclass(slots=True)
class Plan:
    todo: list[Account] = field(default_factory=list)
    expected: dict[int, list[ExpectedPosition]] = field(default_factory=dict)
    done: bool = False
    note: str | None = None
    #: The guards' rows of the accounts to do, read with the plan (None: no guard).
    guard: GuardChunk | None = None


@dataclass(slots=True)
class Outcomes:
    synced: list[AccountSynced] = field(default_factory=list)
    failed: list[AccountFailed] = field(default_factory=list)
    seconds: dict[int, float] = field(default_factory=dict)
    #: The quiet guard states, written with the results.
    guard: GuardChunk | None = None


@job_task(names.SYNC_ACCOUNTS, queue=terminal_queue, retry=SYNC_RETRY, ignore_result=True)
def sync_accounts(self: JobTask, run_id: int, terminal: str, chunk_no: int, account_ids: list[int]) -> dict[str, Any]:
    request = ChunkRequest(run_id=run_id, terminal=terminal, chunk_no=chunk_no, account_ids=account_ids)
    p = ports()
    with runs.failing_run(p, run_id):
        check_queue(request.terminal, self.request.delivery_info, bool(self.request.is_eager))
        return sync_chunk(p, mt5_ports(), request, attempt=self.request.retries, final=self.last_attempt)


def sync_chunk(p: Ports, mt5: Mt5Ports, request: ChunkRequest, *, attempt: int, final: bool) -> dict[str, Any]:
    with collector_paused():
        return _sync_chunk(p, mt5, request, attempt=attempt, final=final)


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector held off while a chunk runs. A chunk keeps what it
    reads until its write (200 accounts: some 300,000 objects), so the collector, run by
    allocation counts, walked that growing heap again and again, the older generations
    too: a sixth of a worker's CPU. What the chunk drops is freed by reference counts as
    before; the little that is cyclic waits for the first collection after the chunk."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _sync_chunk(p: Ports, mt5: Mt5Ports, request: ChunkRequest, *, attempt: int, final: bool) -> dict[str, Any]:
    plan = _plan(p, request, guarded=mt5.guard_policy is not None)
    if plan.done:
        return {"batch_run_id": request.run_id, "chunk_no": request.chunk_no, "note": plan.note}
    outcomes = _read(p, mt5, request, plan, attempt)
    retried = [f for f in outcomes.failed if f.kind not in PERMANENT_KINDS]
    final = final or not retried
    result = _write(p, request, outcomes, attempt=attempt, final=final)
    _observe(mt5.sync_observer, request.terminal, outcomes)
    deliver_notifications(p, mt5.notifier)  # after every close of the chunk: a slow notifier delays none
    if not final:
        raise AccountsFailed(
            f"{len(retried)} account(s) failed, retried: " + "; ".join(f"{f.account.login}: {f.kind}" for f in retried)
        )
    return result


def _plan(p: Ports, request: ChunkRequest, *, guarded: bool) -> Plan:
    with p.uow() as uow:
        s = uow.session
        run = ledger.get_run(s, request.run_id)
        if run.finished_at is not None:
            return Plan(done=True, note="cycle already ended")
        if request.chunk_no in ledger.done_chunks(s, run.id):
            return Plan(done=True, note="chunk already counted")
        given_up = failed_for_good(s, run.id, PERMANENT_KINDS)
        accounts = [a for a in accounts_by_ids(s, request.account_ids) if a.id not in given_up]
        synced = stored_keys(s, PositionSnapshot, [keys.mt5_snapshot_key(a.id, run.id) for a in accounts])
        todo = [a for a in accounts if keys.mt5_snapshot_key(a.id, run.id) not in synced]
        ids = [a.id for a in todo]
        return Plan(todo, dict(open_expected(s, ids)), guard=GuardChunk.read(s, ids) if guarded else None)


def _read(p: Ports, mt5: Mt5Ports, request: ChunkRequest, plan: Plan, attempt: int) -> Outcomes:
    conn = connection(mt5.gateways, request.terminal)
    conn.symbols.clear()
    out = Outcomes(guard=plan.guard)
    for account in plan.todo:
        started = time.perf_counter()
        expected = plan.expected.get(account.id, [])
        try:
            reading = read_account(
                conn,
                account,
                mt5.credentials.password(account.credential_ref),
                expected,
                after_login=partial(resume_account, p, mt5, conn, account, request.run_id, _pending(plan, account)),
            )
        except Mt5Error as exc:
            out.failed.append(AccountFailed(account, request.run_id, attempt, p.clock(), exc.kind, str(exc)))
            log.warning("mt5_account_sync_failed", login=account.login, kind=exc.kind, error=str(exc))
        else:
            rules = Rules(
                frozenset(account.magic_numbers), mt5.slippage_points, reading.account.mode is AccountMode.NETTING
            )
            outcomes = reconcile(expected, reading.positions, reading.symbols, reading.deals, rules)
            figures = snapshot_figures(reading.account, reading.positions, account.peak_equity)
            synced_at = p.clock()
            decision = guard_read(  # still logged in; the market guard watches the symbols in play
                p, mt5, conn, account, figures, synced_at, request.run_id, tuple(reading.symbols), plan.guard
            )
            ops = None if decision is None else decision.day_ops  # the snapshot keeps what the guard saw
            out.synced.append(AccountSynced(account, request.run_id, synced_at, figures, outcomes, ops))
        out.seconds[account.id] = time.perf_counter() - started
    return out


def _pending(plan: Plan, account: Account) -> int | None:
    return None if plan.guard is None else plan.guard.open_intents(account.id)


def _write(p: Ports, request: ChunkRequest, outcomes: Outcomes, *, attempt: int, final: bool) -> dict[str, Any]:
    """Results, then the ledger: an attempt with failures to retry adds its counts; a
    complete chunk (or the last attempt, its failures final) is counted in."""

    def work(uow: SqlAlchemyUnitOfWork, run: BatchRun) -> fanin.ChunkDone:
        if outcomes.guard is not None:
            outcomes.guard.write(uow.session, now=p.clock())
        written = write_sync_results(uow.session, outcomes.synced, outcomes.failed, batch_run_id=run.id, now=p.clock())
        for key in written.conflict_keys:
            log.warning("mt5_result_conflicted", idempotency_key=key)
        complete = final or not outcomes.failed
        done_failed = outcomes.failed if complete else [f for f in outcomes.failed if f.kind in PERMANENT_KINDS]
        # Accounts done in this attempt, not rows written: a retried account counts once, when final.
        written.counts.processed = len(outcomes.synced) + len(done_failed)
        written.counts.exceptions = len(done_failed)
        if done_failed:
            failures = [*(RunRecord.from_details(run.details).failures or []), *(describe(f) for f in done_failed)]
            run.details = {**run.details, **RunRecord(failures=failures).as_details()}
        return fanin.ChunkDone(
            written.counts,
            complete=complete,
            summary={"attempt": attempt, "synced": len(outcomes.synced), "failed": len(outcomes.failed)},
        )

    result = fanin.chunk_step(p, request.run_id, request.chunk_no, work, event="mt5_chunk_synced", close=_CLOSE)
    return {**result, "cycle_done": bool(result.get("run_done"))}


#: At the cycle's end: each planned account without a snapshot (or a failure row) is `not_synced`.
_CLOSE = coverage.closer(CYCLE_COVERAGE)


def describe(failed: AccountFailed) -> str:
    """A failed login and why, for the cycle's error."""
    return f"login {failed.account.login}: {failed.error}"[:300]


def _observe(observer: SyncObserver, terminal: str, outcomes: Outcomes) -> None:
    for synced in outcomes.synced:
        a = synced.account
        observer.account_synced(terminal, a.login, a.currency, synced.figures, synced.outcomes, outcomes.seconds[a.id])
    for failed in outcomes.failed:
        observer.account_failed(terminal, failed.account.login, failed.kind, outcomes.seconds[failed.account.id])
