"""A chunk message runs only when it is one its run planned (issue 21, point 1).

Every chunked job fans out through tasks.fanout, which keeps each planned chunk's task and
arguments (batch_run_chunk_plans). A chunk message (a task taking `run_id` and `chunk_no`)
is checked against that plan before anything of it runs: its run exists, its chunk number
is one of the run's, its task and arguments are the planned ones. A message that is not
(a stray `celery call` with chunk_no 100000, a reversed key range, a chunk of an older plan)
is dead-lettered (tasks.deadletter: an audit row, one log line, an alert) and acked: never
counted in, and its run goes on. A run planned before plans were kept has none: its
chunks are taken as before."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from db import ledger
from db.models import BatchRun
from tasks.deadletter import set_aside
from tasks.ports import Ports

UNPLANNED = "unplanned_chunk"
#: The arguments every chunk message carries besides its planned ones.
ADDRESS = ("run_id", "chunk_no")


def unplanned(p: Ports, task_name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str | None:
    """Why this chunk message is not one its run planned, or None."""
    if args:
        return f"positional arguments {len(args)}: a chunk message names its arguments"
    run_id, chunk_no = kwargs.get("run_id"), kwargs.get("chunk_no")
    if type(run_id) is not int or type(chunk_no) is not int:
        return f"run_id {run_id!r} and chunk_no {chunk_no!r} must be integers"
    given = {k: v for k, v in kwargs.items() if k not in ADDRESS}
    with p.uow() as uow:
        run = uow.session.get(BatchRun, run_id)
        if run is None:
            return f"no run {run_id}"
        planned = ledger.planned_chunk(uow.session, run_id, chunk_no)
        if planned is None:
            if not ledger.chunk_plan(uow.session, run_id):
                return None  # planned before plans were kept
            return f"run {run_id} has no chunk {chunk_no} (its chunks: 0 to {run.chunks_total - 1})"
    if planned.task != task_name:
        return f"chunk {chunk_no} of run {run_id} is a {planned.task}, not a {task_name}"
    if planned.kwargs != given:
        return f"chunk {chunk_no} of run {run_id} was planned with {_short(planned.kwargs)}, not {_short(given)}"
    return None


def refuse_unplanned(task: Any, p: Ports, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Dead-letter the running chunk message when it is not planned; else return."""
    problem = unplanned(p, task.name, args, kwargs)
    if problem is None:
        return
    set_aside(
        task,
        p,
        UNPLANNED,
        f"unplanned chunk message: {problem}",
        run_id=kwargs.get("run_id"),
        chunk_no=kwargs.get("chunk_no"),
    )


def _short(kwargs: Mapping[str, Any], limit: int = 200) -> str:
    text = ", ".join(f"{k}={v!r}" for k, v in sorted(kwargs.items()))
    return text if len(text) <= limit else text[: limit - 3] + "..."
