"""The one fan-out (tasks.fanout): a run's chunks and plan recorded in the ledger, their
messages sent after commit; planned again, only the chunks not counted in go out; a plan
of no chunk ends the run. A fake send records what would go to the broker."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.values import Counts, Job, Trigger
from db import ledger
from db.models import BatchRun
from tasks import fanout
from tasks.runtime import Runtime

AS_OF = date(2026, 11, 20)


class FakeSend:
    """Keeps each batch of messages with the run's chunk total as committed when it was sent."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.sent: list[tuple[int | None, list[dict[str, Any]]]] = []

    def __call__(self, messages: Any) -> None:
        with self.rt.uow() as uow:
            committed = uow.session.scalar(select(BatchRun.chunks_total))
        self.sent.append((committed, [{"task": m.task, "kwargs": m.kwargs, **m.options} for m in messages]))


def three_chunks(s: Session, run: BatchRun) -> fanout.Plan:
    return fanout.Plan(
        [fanout.Chunk("t.chunk", {"ids": [n]}, queue="q1" if n == 2 else None) for n in range(3)],
        details={"chunk_size": 1},
        log={"chunks": 3},
    )


def started(rt: Runtime) -> int:
    with rt.uow() as uow:
        run = ledger.start_run(
            uow.session,
            Job.MTM,
            AS_OF,
            Trigger.MANUAL,
            now=rt.clock(),
            stale_after=timedelta(hours=1),
            details={"a": 1},
        ).run
        uow.commit()
        return run.id


def stored(rt: Runtime, run_id: int) -> BatchRun:
    with rt.uow() as uow:
        run = ledger.get_run(uow.session, run_id)
        uow.session.expunge(run)
        return run


class TestFanOut:
    def test_the_plan_is_recorded_and_every_chunk_sent_after_commit(self, runtime: Runtime) -> None:
        run_id, send = started(runtime), FakeSend(runtime)
        fanout.fan_out(run_id, three_chunks, uow=runtime.uow, send=send, event="planned")
        run = stored(runtime, run_id)
        assert (run.chunks_total, run.details, run.status) == (3, {"a": 1, "chunk_size": 1}, "running")
        assert send.sent == [
            (
                3,
                [
                    {"task": "t.chunk", "kwargs": {"run_id": run_id, "chunk_no": 0, "ids": [0]}},
                    {"task": "t.chunk", "kwargs": {"run_id": run_id, "chunk_no": 1, "ids": [1]}},
                    {"task": "t.chunk", "kwargs": {"run_id": run_id, "chunk_no": 2, "ids": [2]}, "queue": "q1"},
                ],
            )
        ]

    def test_planned_again_only_the_chunks_not_counted_in_go_out(self, runtime: Runtime) -> None:
        run_id, send = started(runtime), FakeSend(runtime)
        fanout.fan_out(run_id, three_chunks, uow=runtime.uow, send=send, event="planned")
        with runtime.uow() as uow:
            ledger.record_chunk(uow.session, run_id, 1, Counts(processed=1, created=1), runtime.clock())
            uow.commit()
        fanout.fan_out(run_id, three_chunks, uow=runtime.uow, send=send, event="planned")
        assert [[m["kwargs"]["chunk_no"] for m in sent] for _, sent in send.sent] == [[0, 1, 2], [0, 2]]

    def test_a_plan_of_no_chunk_ends_the_run_and_sends_nothing(self, runtime: Runtime) -> None:
        run_id, send = started(runtime), FakeSend(runtime)
        summary = fanout.fan_out(run_id, lambda s, run: fanout.Plan([]), uow=runtime.uow, send=send, event="planned")
        assert (summary["status"], stored(runtime, run_id).chunks_total, send.sent) == ("succeeded", 0, [])


class TestChunkedJob:
    def test_a_job_covers_its_runs_and_a_per_instance_job_its_prefix(self) -> None:
        mtm = fanout.ChunkedJob("mtm", resend=print)
        cycle = fanout.ChunkedJob("mt5_sync:", resend=print, per_instance=True)
        assert [mtm.covers(j) for j in ("mtm", "mtm2", "mt5_sync:t1")] == [True, False, False]
        assert [cycle.covers(j) for j in ("mt5_sync:t1", "mt5_sync:", "mt5_syncx")] == [True, True, False]
