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
from tasks.ports import Ports

AS_OF = date(2026, 11, 20)


class FakeSend:
    """Keeps each batch of messages with the run's chunk total as committed when it was sent."""

    def __init__(self, rt: Ports) -> None:
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


def started(rt: Ports) -> int:
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


def stored(rt: Ports, run_id: int) -> BatchRun:
    with rt.uow() as uow:
        run = ledger.get_run(uow.session, run_id)
        uow.session.expunge(run)
        return run


class TestFanOut:
    def test_the_plan_is_recorded_and_every_chunk_sent_after_commit(self, runtime: Ports) -> None:
        run_id, send = started(runtime), FakeSend(runtime)
        fanout.fan_out(runtime, run_id, three_chunks, send=send, event="planned")
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

    def test_planned_again_only_the_chunks_not_counted_in_go_out(self, runtime: Ports) -> None:
        run_id, send = started(runtime), FakeSend(runtime)
        fanout.fan_out(runtime, run_id, three_chunks, send=send, event="planned")
        with runtime.uow() as uow:
            ledger.record_chunk(uow.session, run_id, 1, Counts(processed=1, created=1), runtime.clock())
            uow.commit()
        fanout.fan_out(runtime, run_id, three_chunks, send=send, event="planned")
        assert [[m["kwargs"]["chunk_no"] for m in sent] for _, sent in send.sent] == [[0, 1, 2], [0, 2]]

    def test_a_plan_of_no_chunk_ends_the_run_and_sends_nothing(self, runtime: Ports) -> None:
        run_id, send = started(runtime), FakeSend(runtime)
        summary = fanout.fan_out(runtime, run_id, lambda s, run: fanout.Plan([]), send=send, event="planned")
        assert (summary["status"], stored(runtime, run_id).chunks_total, send.sent) == ("succeeded", 0, [])


class TestChunkedJob:
    def test_a_job_covers_its_runs_and_a_per_instance_job_its_prefix(self) -> None:
        mtm = fanout.ChunkedJob("mtm", resend=print)
        cycle = fanout.ChunkedJob("mt5_sync:", resend=print, per_instance=True)
        assert [mtm.covers(j) for j in ("mtm", "mtm2", "mt5_sync:t1")] == [True, False, False]
        assert [cycle.covers(j) for j in ("mt5_sync:t1", "mt5_sync:", "mt5_syncx")] == [True, True, False]


class TestThePlanKept:
    """Each planned chunk is kept (batch_run_chunk_plans, issue 21 point 1): a re-plan sends
    those, and a chunk message is checked against them (tasks.plan_check.unplanned)."""

    def test_the_chunks_are_kept_and_a_re_plan_sends_them_not_a_new_plan(self, runtime: Ports) -> None:
        run_id, send = started(runtime), FakeSend(runtime)
        fanout.fan_out(runtime, run_id, three_chunks, send=send, event="planned")
        with runtime.uow() as uow:
            kept = ledger.chunk_plan(uow.session, run_id)
        assert kept == [
            ledger.PlannedChunk(0, "t.chunk", None, {"ids": [0]}),
            ledger.PlannedChunk(1, "t.chunk", None, {"ids": [1]}),
            ledger.PlannedChunk(2, "t.chunk", "q1", {"ids": [2]}),
        ]

        def four_other_chunks(s: Session, run: BatchRun) -> fanout.Plan:  # what the book says now
            return fanout.Plan([fanout.Chunk("t.chunk", {"ids": [n, n]}) for n in range(4)], details={"x": 2})

        fanout.fan_out(runtime, run_id, four_other_chunks, send=send, event="planned")
        assert send.sent[1] == send.sent[0]  # the same three messages, the same queues
        run = stored(runtime, run_id)
        assert (run.chunks_total, run.details) == (3, {"a": 1, "chunk_size": 1})

    def test_a_chunk_message_is_checked_against_its_plan(self, runtime: Ports) -> None:
        from tasks.plan_check import unplanned

        run_id = started(runtime)
        fanout.fan_out(runtime, run_id, three_chunks, send=FakeSend(runtime), event="planned")

        def check(*args: Any, task: str = "t.chunk", **kwargs: Any) -> str | None:
            return unplanned(runtime, task, args, kwargs)

        assert check(run_id=run_id, chunk_no=1, ids=[1]) is None
        assert (
            check(run_id=run_id, chunk_no=100000, ids=[1]) == f"run {run_id} has no chunk 100000 (its chunks: 0 to 2)"
        )
        assert check(run_id=run_id, chunk_no=1, ids=[9, 1]) == (
            f"chunk 1 of run {run_id} was planned with ids=[1], not ids=[9, 1]"
        )
        assert check(run_id=run_id, chunk_no=1, ids=[1], task="t.other") == (
            f"chunk 1 of run {run_id} is a t.chunk, not a t.other"
        )
        assert check(run_id, 1, ids=[1]) == "positional arguments 2: a chunk message names its arguments"
        assert check(run_id=str(run_id), chunk_no=1, ids=[1]) == f"run_id '{run_id}' and chunk_no 1 must be integers"
        assert check(run_id=run_id + 1000, chunk_no=0, ids=[0]) == f"no run {run_id + 1000}"

    def test_a_run_planned_before_plans_were_kept_takes_its_chunks(self, runtime: Ports) -> None:
        from sqlalchemy import delete

        from db.models import BatchRunChunkPlan
        from tasks.plan_check import unplanned

        run_id = started(runtime)
        fanout.fan_out(runtime, run_id, three_chunks, send=FakeSend(runtime), event="planned")
        with runtime.uow() as uow:
            uow.session.execute(delete(BatchRunChunkPlan))
            uow.commit()
        assert unplanned(runtime, "t.chunk", (), {"run_id": run_id, "chunk_no": 7, "contract_ids": [1]}) is None
