"""What the effectiveness and postings runs must cover (issue 21, point 1): the
relationships of the designation versions each chunk planned, kept as the chunk's members
(`hedge_relationship`). At a run's end (tasks.coverage.close_gaps) a planned relationship
with no result of the date is a `coverage_gaps` row: `not_assessed` (no effectiveness
result) or `not_posted` (neither a journal entry nor a `postings_blocked` exception, nor
the chunk's word that it had nothing to post: a relationship past its exposure date whose
instrument is no longer valued, a predecessor whose instrument was re-designated; that
decision leaves no row, so each chunk's audit event names them)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, union
from sqlalchemy.orm import Session

from core.plans import IdRuns, id_runs
from core.values import Job
from db.hedging.effectiveness import legs_of
from db.hedging.journal_models import JournalEntry, PostingException
from db.hedging.models import EffectivenessResult
from db.models import AuditEvent, BatchRun
from tasks.coverage import JobCoverage

RELATIONSHIP = "hedge_relationship"
#: The postings chunk's audit event, and its field naming the relationships with nothing to post.
CHUNK_AUDIT, NOTHING_TO_POST = "postings_chunk_written", "nothing_to_post"


def relationship_members(session: Session, version_ids: Sequence[int]) -> dict[str, IdRuns]:
    """A chunk's members: the relationships of its designation versions."""
    return {RELATIONSHIP: id_runs(sorted({d.relationship_id for d, _c, _i in legs_of(session, version_ids)}))}


def _assessed(session: Session, run: BatchRun, kind: str, runs: IdRuns) -> set[int]:
    stmt = select(EffectivenessResult.relationship_id).where(
        EffectivenessResult.as_of_date == run.as_of_date,
        EffectivenessResult.relationship_id.between(runs[0][0], runs[-1][1]),
    )
    return {int(i) for i in session.scalars(stmt)}


def _posted(session: Session, run: BatchRun, kind: str, runs: IdRuns) -> set[int]:
    first, last = runs[0][0], runs[-1][1]
    entries = select(JournalEntry.relationship_id).where(
        JournalEntry.as_of_date == run.as_of_date, JournalEntry.relationship_id.between(first, last)
    )
    blocked = select(PostingException.relationship_id).where(
        PostingException.as_of_date == run.as_of_date, PostingException.relationship_id.between(first, last)
    )
    decided = select(AuditEvent.details).where(AuditEvent.batch_run_id == run.id, AuditEvent.event_type == CHUNK_AUDIT)
    nothing = {int(i) for details in session.scalars(decided) for i in (details or {}).get(NOTHING_TO_POST, [])}
    return nothing | {int(i) for i in session.scalars(union(entries, blocked)) if i is not None}


EFFECTIVENESS_COVERAGE = JobCoverage(
    Job.EFFECTIVENESS.value, "not_assessed", _assessed, lambda kind, i, run: f"EFF:{i}:*:{run.as_of_date}"
)
POSTINGS_COVERAGE = JobCoverage(
    Job.POSTINGS.value, "not_posted", _posted, lambda kind, i, run: f"FX_REVALUATION-{i}-{run.as_of_date}"
)
