"""Job 4: MT5 account sync and reconciliation. The Celery tasks and their routing; the
work is in tasks.mt5.cycle (the cycle of a terminal) and tasks.mt5.sync (a chunk of its
accounts).

The MetaTrader5 module is process-global: each terminal has one worker process
(`-Q mt5.<terminal> -c 1`), and every task of a terminal goes to its queue: sent without
a queue, an MT5 task takes it from its `terminal` argument. They have no static route
(there is no queue every MT5 task could go to), and a chunk delivered from another queue
than its terminal's is refused."""
from __future__ import annotations

from typing import Any

import structlog

from tasks.base import ROUTES, TRANSIENT_ERRORS, JobTask, job_task
from tasks.mt5.cycle import CycleRequest, begin_cycle, failing_cycle, queue_of
from tasks.mt5.sync import AccountsFailed, ChunkRequest, sync_chunk


class WrongQueue(Exception):
    """A terminal's chunk reached a worker of another queue (its terminal is not this one's)."""


def with_terminal_queue(kwargs: Any, options: dict[str, Any]) -> dict[str, Any]:
    """`options` with the queue of the terminal named in `kwargs`, unless a queue is given."""
    if options.get("queue") is None and isinstance(kwargs, dict) and isinstance(kwargs.get("terminal"), str):
        return {**options, "queue": queue_of(kwargs["terminal"])}
    return options


class Mt5Task(JobTask):
    """An MT5 task goes to the queue of the terminal it names."""

    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        return super().apply_async(args, kwargs, **with_terminal_queue(kwargs, options))


class Mt5SyncTask(Mt5Task):
    """The retry policy of an account sync: an account that failed (terminal unreachable,
    authorization failed, IPC timeout) is retried with its chunk, back-off 2, 4, 8, 16,
    32 s (full jitter, capped at 60), 5 times; after that its failure is final. In-process
    (embedded mode) there is no broker to wait on: the first failure is final."""

    autoretry_for = (*TRANSIENT_ERRORS, AccountsFailed)
    max_retries = 5
    retry_backoff = 2
    retry_backoff_max = 60
    retry_jitter = True

    @property
    def last_attempt(self) -> bool:
        return bool(self.request.is_eager) or self.request.retries >= self.max_retries

    def check_queue(self, terminal: str) -> None:
        """Only the terminal's own worker may talk to it (the module is process-global)."""
        delivered_from = (self.request.delivery_info or {}).get("routing_key")
        if not self.request.is_eager and delivered_from and delivered_from != queue_of(terminal):
            raise WrongQueue(f"a chunk of terminal {terminal} came from queue {delivered_from}, "
                             f"not {queue_of(terminal)}: send it there")


#: The decorator's options that carry the policy (job_task's defaults would override the class).
MT5_RETRY: dict[str, Any] = {
    "base": Mt5SyncTask, "autoretry_for": Mt5SyncTask.autoretry_for, "max_retries": Mt5SyncTask.max_retries,
    "retry_backoff": Mt5SyncTask.retry_backoff, "retry_backoff_max": Mt5SyncTask.retry_backoff_max,
}


@job_task("hedgeops.mt5.run_sync_cycle", queue="mt5", base=Mt5Task)
def run_sync_cycle(self: Any, terminal: str, trigger: str = "manual", logins: list[int] | None = None) -> dict[str, Any]:
    request = CycleRequest.model_validate({"terminal": terminal, "trigger": trigger, "logins": logins})
    with structlog.contextvars.bound_contextvars(terminal=request.terminal):
        return begin_cycle(request, self.request.id)


@job_task("hedgeops.mt5.sync_accounts", queue="mt5", ignore_result=True, **MT5_RETRY)
def sync_accounts(self: Any, run_id: int, terminal: str, chunk_no: int, account_ids: list[int]) -> dict[str, Any]:
    request = ChunkRequest(run_id=run_id, terminal=terminal, chunk_no=chunk_no, account_ids=account_ids)
    with structlog.contextvars.bound_contextvars(batch_run_id=run_id, terminal=terminal, chunk_no=chunk_no), \
            failing_cycle(run_id):
        self.check_queue(request.terminal)
        return sync_chunk(request, attempt=self.request.retries, final=self.last_attempt)


for _name in ("hedgeops.mt5.run_sync_cycle", "hedgeops.mt5.sync_accounts"):
    ROUTES.pop(_name, None)  # routed by terminal (Mt5Task), never to one static queue
