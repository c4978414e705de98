"""The JSON shape of a run, as `run --json`, `status --json` and task results print it."""

from __future__ import annotations

from typing import Any

from core.redaction import redact_text
from core.run_details import RunRecord
from db.ledger import counts_of
from db.models import BatchRun


def run_summary(run: BatchRun, *, note: str | None = None) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "job": run.job,
        "as_of": run.as_of_date.isoformat(),
        "status": run.status,
        "batch_run_id": run.id,
        "attempt": run.attempt,
        "trigger": run.trigger,
        "counts": counts_of(run).as_dict(),
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }
    record = RunRecord.from_details(run.details)
    if record.price_missing is not None:
        summary["price_missing"] = len(record.price_missing)
    if record.failed_sources:
        summary["failed_sources"] = [f.source for f in record.failed_sources]
    if run.error:
        summary["error"] = redact_text(run.error)  # an error stored before redaction was the rule
    if note:
        summary["note"] = note
    return summary
