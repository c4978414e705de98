"""The write path: the only writer of results.

Every result has an idempotency key and a canonical payload. Writing it gives
`created` (inserted), `existing` (same key, same payload hash: nothing changes) or
`conflict` (same key, other payload: nothing is overwritten, an idempotency_conflicts
row keeps both payloads). The bulk form inserts thousands of rows per statement with
INSERT .. ON CONFLICT DO NOTHING RETURNING on PostgreSQL and SQLite alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.canonical import canonical_form
from core.values import Counts, WriteOutcome
from db.base import Base, ResultTable
from db.bulk_pg import insert_via_staging
from db.models import IdempotencyConflict

LOOKUP_CHUNK = 900  # keys per IN (...) lookup; below SQLite's variable limit
STAGING_THRESHOLD = 200  # rows from which COPY through a staging table pays off (PostgreSQL)


@dataclass(frozen=True, slots=True)
class ResultRow:
    """A result to write: its key, canonical payload and hash, and its column values."""

    key: str
    payload: dict[str, Any]
    sha256: str
    columns: dict[str, Any] = field(default_factory=dict)
    payload_json: str | None = None  # the canonical JSON text, when already made


@dataclass(slots=True)
class WriteReport:
    """The outcome of every row, in input order, and the conflicts found."""

    outcomes: list[WriteOutcome]
    conflict_keys: list[str]
    #: Per conflicting key: (the stored payload, the refused one).
    conflicts: dict[str, tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=dict)

    def counts(self) -> Counts:
        counts = Counts(processed=len(self.outcomes))
        for outcome in self.outcomes:
            counts.record(outcome)
        return counts


def dialect_insert(session: Session, table: type[Base]) -> Any:
    """INSERT of the session's dialect, which knows ON CONFLICT."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table)


def result_row(key: str, payload: dict[str, Any], columns: dict[str, Any]) -> ResultRow:
    """A result with its payload in canonical form and the payload's hash."""
    value, text, sha = canonical_form(payload)
    return ResultRow(key, value, sha, columns, text)


def write_results(
    session: Session, table: type[ResultTable], rows: Sequence[ResultRow], *, batch_run_id: int | None, now: datetime
) -> WriteReport:
    """Write `rows` into `table` and say what became of each."""
    first: dict[str, ResultRow] = {}
    for row in rows:
        first.setdefault(row.key, row)
    inserted, differing = _insert(
        session, table, list(first.values()), {"batch_run_id": batch_run_id, "created_at": now}
    )
    stored = _stored(session, table, sorted(differing))
    outcomes: list[WriteOutcome] = []
    conflicts: dict[str, ResultRow] = {}
    seen: set[str] = set()
    for row in rows:
        reference = stored[row.key][0] if row.key in stored else first[row.key].sha256
        if row.key in inserted and row.key not in seen:
            outcomes.append(WriteOutcome.CREATED)
        elif reference == row.sha256:
            outcomes.append(WriteOutcome.EXISTING)
        else:
            outcomes.append(WriteOutcome.CONFLICT)
            conflicts[row.key] = row
        seen.add(row.key)
    pairs = _record_conflicts(session, table, conflicts.values(), stored, first, batch_run_id, now)
    return WriteReport(outcomes, list(conflicts), pairs)


def _insert(
    session: Session, table: type[ResultTable], rows: list[ResultRow], common: dict[str, Any]
) -> tuple[set[str], set[str]]:
    """Insert what is new; returns (inserted keys, keys stored with another payload hash).

    PostgreSQL and many rows: COPY through a staging table. Otherwise a multi-row
    INSERT .. ON CONFLICT DO NOTHING RETURNING, then the hashes of the keys not inserted.
    """
    if not rows:
        return set(), set()
    if session.get_bind().dialect.name == "postgresql" and len(rows) >= STAGING_THRESHOLD:
        return insert_via_staging(session, table, rows, common)
    values = [
        {**row.columns, "idempotency_key": row.key, "payload": row.payload, "payload_sha256": row.sha256, **common}
        for row in rows
    ]
    stmt = dialect_insert(session, table).on_conflict_do_nothing(index_elements=["idempotency_key"])
    inserted = set(session.execute(stmt.returning(table.idempotency_key), values).scalars())
    hashes = {v["idempotency_key"]: v["payload_sha256"] for v in values if v["idempotency_key"] not in inserted}
    stored = _stored_hashes(session, table, list(hashes))
    return inserted, {key for key, sha in stored.items() if sha != hashes[key]}


def _stored_hashes(session: Session, table: type[ResultTable], keys: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    key_col = table.idempotency_key
    for start in range(0, len(keys), LOOKUP_CHUNK):
        part = keys[start : start + LOOKUP_CHUNK]
        for row in session.execute(select(key_col, table.payload_sha256).where(key_col.in_(part))):
            found[str(row[0])] = str(row[1])
    return found


def write_result(
    session: Session, table: type[ResultTable], row: ResultRow, *, batch_run_id: int | None, now: datetime
) -> WriteOutcome:
    return write_results(session, table, [row], batch_run_id=batch_run_id, now=now).outcomes[0]


def _stored(session: Session, table: type[ResultTable], keys: list[str]) -> dict[str, tuple[str, dict[str, Any]]]:
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    key_col = table.idempotency_key
    for start in range(0, len(keys), LOOKUP_CHUNK):
        part = keys[start : start + LOOKUP_CHUNK]
        stmt = select(key_col, table.payload_sha256, table.payload).where(key_col.in_(part))
        for row in session.execute(stmt):
            found[str(row[0])] = (str(row[1]), dict(row[2]))
    return found


def _record_conflicts(
    session: Session,
    table: type[ResultTable],
    rows: Iterable[ResultRow],
    stored: dict[str, tuple[str, dict[str, Any]]],
    first: dict[str, ResultRow],
    batch_run_id: int | None,
    now: datetime,
) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """One idempotency_conflicts row per refused payload (once, however often it comes)."""
    values, pairs = [], {}
    for row in rows:
        existing_sha, existing_payload = stored.get(row.key) or (first[row.key].sha256, first[row.key].payload)
        pairs[row.key] = (existing_payload, row.payload)
        values.append(
            {
                "table_name": table.__tablename__,
                "idempotency_key": row.key,
                "existing_sha256": existing_sha,
                "incoming_sha256": row.sha256,
                "existing_payload": existing_payload,
                "incoming_payload": row.payload,
                "batch_run_id": batch_run_id,
                "detected_at": now,
            }
        )
    if values:
        stmt = dialect_insert(session, IdempotencyConflict).on_conflict_do_nothing(
            index_elements=["idempotency_key", "incoming_sha256"]
        )
        session.execute(stmt, values)
    return pairs
