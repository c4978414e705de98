"""What a terminal's sync cycle must cover (issue 21, point 1): the enabled accounts its
plan found, kept as each chunk's members (`mt5_account`). At the cycle's end
(tasks.coverage.close_gaps) a planned account with no position snapshot of the cycle (a
synced one, or the row of a failure: its exception) is a `coverage_gaps` row
`not_synced`, so the cycle does not end `succeeded`."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.keys import mt5_snapshot_key
from core.mt5.accounts import CYCLE_JOB_PREFIX
from core.plans import IdRuns, expand, id_runs
from db.models import BatchRun
from db.mt5.models import PositionSnapshot
from tasks.coverage import JobCoverage

ACCOUNT = "mt5_account"


def account_members(account_ids: Sequence[int]) -> dict[str, IdRuns]:
    """A chunk's members: its accounts."""
    return {ACCOUNT: id_runs(sorted(account_ids))}


def _synced(session: Session, run: BatchRun, kind: str, runs: IdRuns) -> set[int]:
    """The planned accounts with a snapshot of this cycle. position_snapshots grows by a row
    per account every few seconds: the query walks its (account_id, synced_at) index per
    account from the cycle's start, never the accounts' history."""
    stmt = select(PositionSnapshot.account_id).where(
        PositionSnapshot.account_id.in_(expand(runs)),
        PositionSnapshot.synced_at >= run.started_at,
        PositionSnapshot.sync_id == run.id,
    )
    return {int(i) for i in session.scalars(stmt.distinct())}


#: The job is per terminal (`mt5_sync:<terminal>`); `job` names the prefix.
CYCLE_COVERAGE = JobCoverage(CYCLE_JOB_PREFIX, "not_synced", _synced, lambda kind, i, run: mt5_snapshot_key(i, run.id))
