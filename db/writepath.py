"""The write path: the only writer of results, and the only place that tells what became of
each one.

Every result has an idempotency key and a canonical payload. Writing it gives `created`
(inserted), `existing` (same key, same payload hash: nothing changes) or `conflict` (same
key, other payload: nothing is overwritten, an idempotency_conflicts row keeps both
payloads). Rows come two ways, and both end in this module:

- as Python rows (`write_results`): a multi-row INSERT .. ON CONFLICT DO NOTHING RETURNING
  on SQLite and for small batches on PostgreSQL; a bigger PostgreSQL batch is COPYed into
  a staging table (db.bulk_pg) and merged from there;
- as SQL (`merge_from`): rows a SELECT makes in the database (db.mtm_in_database values a
  chunk of contracts so), merged by the same statement as the staging table's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any

import orjson
import psycopg
from sqlalchemy import JSON, Connection, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.canonical import canonical_form
from core.values import Counts, WriteOutcome
from db.base import Base, ResultTable
from db.bulk_pg import copy_to_staging, empty_staging
from db.models import IdempotencyConflict

LOOKUP_CHUNK = 900  # keys per IN (...) lookup; below SQLite's variable limit
STAGING_THRESHOLD = 200  # rows from which COPY through a staging table pays off (PostgreSQL)
_CREATED_KEYS = "(SELECT coalesce(array_agg(idempotency_key), '{}') FROM ins)"

#: Per key stored with another hash than the batch's: (the stored hash, the stored payload).
Stored = dict[str, tuple[str, dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class ResultRow:
    """A result to write: its key, canonical payload and hash, and its column values."""

    key: str
    payload: dict[str, Any]
    sha256: str
    columns: dict[str, Any] = field(default_factory=dict)
    payload_json: str | None = None  # the canonical JSON text, when already made


@dataclass(frozen=True, slots=True)
class Conflict:
    """A refused payload: the key, the stored hash and payload, the incoming ones."""

    key: str
    stored_sha256: str
    stored_payload: dict[str, Any]
    incoming_sha256: str
    incoming_payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class MergeSource:
    """Rows made in the database, to merge into a result table: `relation` (a table, or a
    CTE of `ctes`) with `columns`: idempotency_key, payload (the canonical JSON text, or
    jsonb), payload_sha256 and columns of the table (batch_run_id and created_at are the
    merge's). `order_by`: a column, the order of the inserts; `extra`: scalar SQL the merge's
    statement returns too (in `Merged.extra`), such as what the source left aside."""

    relation: str
    columns: tuple[str, ...]
    ctes: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    order_by: str | None = None
    extra: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Merged:
    """What a merge did: rows taken, created, existing; the conflicts, in the source's order;
    the keys created (when asked for); the values of the source's `extra`."""

    taken: int
    created: int
    existing: int
    conflicts: list[Conflict]
    created_keys: set[str] | None = None
    extra: tuple[Any, ...] = ()

    @property
    def counts(self) -> Counts:
        return Counts(self.taken, self.created, self.existing, len(self.conflicts))

    def settled_by(self, again: Merged) -> Merged:
        """This merge with a second look's answer (a newer snapshot, in which this merge's
        own rows are stored with their own hashes): the conflicts and the rest are its."""
        created = self.created + again.created
        keys = None if self.created_keys is None else self.created_keys | (again.created_keys or set())
        return Merged(
            self.taken, created, self.taken - created - len(again.conflicts), again.conflicts, keys, again.extra
        )


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
    session: Session,
    table: type[ResultTable],
    rows: Sequence[ResultRow],
    *,
    batch_run_id: int | None,
    now: datetime,
    rerun_probe: bool = True,
    copy_new: bool = False,
) -> WriteReport:
    """Write `rows` into `table` and say what became of each. `rerun_probe=False`: the
    caller knows its keys are new (a fresh sync's), so PostgreSQL's bulk form skips its
    probe for a rerun and goes straight to the merge, which tells the same outcomes.
    `copy_new=True` (PostgreSQL's bulk form, with the probe): when the probe finds none of
    the keys stored, the rows are COPYed straight into the table (`_copy_new`), no staging
    table and no merge; a key another writer stores meanwhile sends them to the merge."""
    first: dict[str, ResultRow] = {}
    for row in rows:
        first.setdefault(row.key, row)
    inserted, stored = _insert(session, table, list(first.values()), batch_run_id, now, rerun_probe, copy_new)
    outcomes, refused = _classify(rows, first, inserted, stored)
    _record_conflicts(session, table, refused.values(), batch_run_id, now)
    pairs = {key: (c.stored_payload, c.incoming_payload) for key, c in refused.items()}
    return WriteReport(outcomes, list(refused), pairs)


def write_result(
    session: Session, table: type[ResultTable], row: ResultRow, *, batch_run_id: int | None, now: datetime
) -> WriteOutcome:
    return write_results(session, table, [row], batch_run_id=batch_run_id, now=now).outcomes[0]


def merge_from(
    session: Session, table: type[ResultTable], source: MergeSource, *, batch_run_id: int | None, now: datetime
) -> Merged:
    """Write the rows a SQL source makes (PostgreSQL), each settled as created, existing or
    conflict; the conflicts recorded as every other writer's are."""
    merged = _merge(session.connection(), table, source, batch_run_id, now)
    _record_conflicts(session, table, merged.conflicts, batch_run_id, now)
    return merged


def _classify(
    rows: Sequence[ResultRow], first: Mapping[str, ResultRow], inserted: set[str], stored: Stored
) -> tuple[list[WriteOutcome], dict[str, Conflict]]:
    """Created: the first row of a key inserted now. Existing: a row with the hash stored
    (or, for a key this batch inserted, the hash of its first row). Conflict: any other;
    per key the last refused payload is the one recorded."""
    outcomes: list[WriteOutcome] = []
    refused: dict[str, Conflict] = {}
    seen: set[str] = set()
    for row in rows:
        if row.key in inserted and row.key not in seen:
            outcomes.append(WriteOutcome.CREATED)
        else:
            sha, payload = stored.get(row.key) or (first[row.key].sha256, first[row.key].payload)
            if sha == row.sha256:
                outcomes.append(WriteOutcome.EXISTING)
            else:
                outcomes.append(WriteOutcome.CONFLICT)
                refused[row.key] = Conflict(row.key, sha, payload, row.sha256, row.payload)
        seen.add(row.key)
    return outcomes, refused


def _insert(
    session: Session,
    table: type[ResultTable],
    rows: list[ResultRow],
    batch_run_id: int | None,
    now: datetime,
    rerun_probe: bool = True,
    copy_new: bool = False,
) -> tuple[set[str], Stored]:
    """Insert what is new (one row per key); returns (inserted keys, keys stored with
    another payload hash)."""
    if not rows:
        return set(), {}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql" and len(rows) >= STAGING_THRESHOLD:
        return _insert_staged(session.connection(), table, rows, batch_run_id, now, rerun_probe, copy_new)
    if dialect == "sqlite" and len(rows) >= STAGING_THRESHOLD and _same_columns(rows):
        return _insert_sqlite_many(session.connection(), table, rows, batch_run_id, now)
    common = {"batch_run_id": batch_run_id, "created_at": now}
    values = [
        {**row.columns, "idempotency_key": row.key, "payload": row.payload, "payload_sha256": row.sha256, **common}
        for row in rows
    ]
    stmt = dialect_insert(session, table).on_conflict_do_nothing(index_elements=["idempotency_key"])
    inserted = set(session.execute(stmt.returning(table.idempotency_key), values).scalars())
    # A later statement: it sees a key another transaction committed while the INSERT waited.
    hashes = {v["idempotency_key"]: v["payload_sha256"] for v in values if v["idempotency_key"] not in inserted}
    stored = dict(_lookup(session, table, list(hashes), table.payload_sha256))
    differing = sorted(key for key, sha in stored.items() if sha != hashes[key])
    found = _lookup(session, table, differing, table.payload_sha256, table.payload)
    return inserted, {key: (sha, dict(doc)) for key, sha, doc in found}


def _insert_staged(
    conn: Connection,
    table: type[ResultTable],
    rows: list[ResultRow],
    batch_run_id: int | None,
    now: datetime,
    rerun_probe: bool = True,
    copy_new: bool = False,
) -> tuple[set[str], Stored]:
    """PostgreSQL, many rows: one probe first (a rerun, every key stored with the same hash,
    ends there: one statement per batch); the rest COPYed to staging and merged. Without
    the probe every row goes to the merge (a key stored after all is classified there).
    With `copy_new`, rows of which the probe found no key stored go straight in."""
    todo = rows
    if rerun_probe:
        pending = _not_stored_alike(conn, table.__tablename__, rows)
        if not pending:
            return set(), {}
        todo = [row for row in rows if row.key in pending]
        if copy_new and not any(pending.values()) and _copy_new(conn, table, todo, batch_run_id, now):
            return {row.key for row in todo}, {}
    columns = (*todo[0].columns, "idempotency_key", "payload", "payload_sha256")
    lines = ([*r.columns.values(), r.key, r.payload_json or json.dumps(r.payload), r.sha256] for r in todo)
    staging = copy_to_staging(conn, table, columns, lines)
    # In key order: the unique indexes take the part's keys in order (about 15% faster).
    merged = _merge(
        conn, table, MergeSource(staging, columns, order_by="idempotency_key"), batch_run_id, now, created_keys=True
    )
    empty_staging(conn, staging)
    return merged.created_keys or set(), {c.key: (c.stored_sha256, c.stored_payload) for c in merged.conflicts}


def _same_columns(rows: Sequence[ResultRow]) -> bool:
    names = rows[0].columns.keys()
    return all(row.columns.keys() == names for row in rows)


def _insert_sqlite_many(
    conn: Connection, table: type[ResultTable], rows: list[ResultRow], batch_run_id: int | None, now: datetime
) -> tuple[set[str], Stored]:
    """SQLite, many rows: the transaction holds the file's one write lock from its start
    (BEGIN IMMEDIATE, db.engine), so the keys one probe finds stored are the keys the insert
    would find. The rest go in by one executemany of the driver, in key order (the unique
    indexes grow at their ends, not all over: about a third less CPU), each value bound as
    its column's type binds it; SQLAlchemy's per-row bookkeeping cost 3 of every 4 seconds
    of a large price file here (issue 23)."""
    name = table.__tablename__
    probe = (
        f"SELECT t.idempotency_key, t.payload_sha256 FROM json_each(?) j JOIN {name} t ON t.idempotency_key = j.value"
    )
    found: dict[str, str] = {k: sha for k, sha in conn.exec_driver_sql(probe, (json.dumps([r.key for r in rows]),))}
    todo = sorted((row for row in rows if row.key not in found), key=lambda row: row.key)
    if todo:
        _executemany_sqlite(conn, table, todo, batch_run_id, now)
    differing = sorted(row.key for row in rows if row.key in found and found[row.key] != row.sha256)
    key_col = table.idempotency_key
    stored: Stored = {}
    for start in range(0, len(differing), LOOKUP_CHUNK):
        chunk = differing[start : start + LOOKUP_CHUNK]
        for key, sha, doc in conn.execute(
            select(key_col, table.payload_sha256, table.payload).where(key_col.in_(chunk))
        ):
            stored[key] = (sha, dict(doc))
    return {row.key for row in todo}, stored


def _executemany_sqlite(
    conn: Connection, table: type[ResultTable], rows: list[ResultRow], batch_run_id: int | None, now: datetime
) -> None:
    columns = table.__table__.columns
    dialect = conn.dialect
    names = (*rows[0].columns, "idempotency_key", "payload", "payload_sha256", "batch_run_id", "created_at")
    binders = [columns[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names]
    bind_payload = binders[-4]
    common = tuple(
        b(v) if b is not None and v is not None else v for b, v in zip(binders[-2:], (batch_run_id, now), strict=True)
    )
    bound = [(i, b) for i, b in enumerate(binders[:-5]) if b is not None]
    # The last value bound per column and what it bound to: a value every row shares (a
    # batch's fetched_at, its file's published_at) is bound once, not once a row.
    last: dict[int, tuple[Any, Any]] = {i: (None, None) for i, _ in bound}
    values = []
    for row in rows:
        line = list(row.columns.values())
        for i, bind in bound:
            value = line[i]
            if value is not None:
                seen, done = last[i]
                if value is not seen:
                    done = bind(value)
                    last[i] = (value, done)
                line[i] = done
        payload = (
            row.payload_json if row.payload_json is not None or bind_payload is None else bind_payload(row.payload)
        )
        values.append((*line, row.key, payload, row.sha256, *common))
    sql = (
        f"INSERT INTO {table.__tablename__} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "
        f"ON CONFLICT (idempotency_key) DO NOTHING"
    )
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(sql, values)
        if cursor.rowcount != len(values):
            raise RuntimeError(f"{table.__tablename__}: {len(values) - cursor.rowcount} rows appeared under the lock")
    finally:
        cursor.close()


def _not_stored_alike(conn: Connection, name: str, rows: Sequence[ResultRow]) -> dict[str, bool]:
    """The keys not stored with the batch's hash, each with whether it is stored (with
    another hash) or not at all; the hashes compared in the database. The batch's keys and
    hashes are one JSON object (orjson: an array parameter of 10,000 texts is dumped in
    Python, text by text); its keys are unique (write_results keeps the first row a key)."""
    # A lookup by the key's index per key, whatever the planner believes of the table: inside
    # one large transaction (a million-row price file) the table is never analysed, and a
    # hash join read the whole table again for each part (quadratic: issue 23). LIMIT 1 keeps
    # the planner from flattening the lateral subquery back into that join.
    sql = (
        f"SELECT s.key, t.payload_sha256 IS NOT NULL FROM json_each_text(%s::json) AS s "
        f"LEFT JOIN LATERAL (SELECT t.payload_sha256 FROM {name} t WHERE t.idempotency_key = s.key LIMIT 1) t "
        f"ON true WHERE t.payload_sha256 IS DISTINCT FROM s.value"
    )
    keys = orjson.dumps({r.key: r.sha256 for r in rows}).decode()
    return {key: stored for key, stored in conn.exec_driver_sql(sql, (keys,))}


def _copy_new(
    conn: Connection, table: type[ResultTable], rows: list[ResultRow], batch_run_id: int | None, now: datetime
) -> bool:
    """COPY `rows`, whose keys the probe found stored by no one, straight into `table`, in
    key order (the unique indexes grow at their ends), inside a savepoint: when a key was
    stored meanwhile (another writer's transaction committed it), the COPY fails on its
    unique index, the savepoint is rolled back and False says: merge them instead, which
    classifies that key as every other writer's. A table with another JSON column than the
    payload is not COPYed here (db.bulk_pg wraps those values)."""
    columns = table.__table__.columns
    if any(isinstance(columns[c].type, JSON) for c in rows[0].columns):
        return False
    names = (*rows[0].columns, "idempotency_key", "payload", "payload_sha256", "batch_run_id", "created_at")
    raw = conn.connection.dbapi_connection
    if not isinstance(raw, psycopg.Connection):
        return False
    conn.exec_driver_sql("SAVEPOINT wp_copy_new")
    try:
        with raw.cursor() as cursor, cursor.copy(f"COPY {table.__tablename__} ({', '.join(names)}) FROM STDIN") as copy:
            for r in sorted(rows, key=attrgetter("key")):
                payload = r.payload_json or json.dumps(r.payload)
                copy.write_row((*r.columns.values(), r.key, payload, r.sha256, batch_run_id, now))
    except psycopg.errors.UniqueViolation:
        conn.exec_driver_sql("ROLLBACK TO SAVEPOINT wp_copy_new")
        return False
    conn.exec_driver_sql("RELEASE SAVEPOINT wp_copy_new")
    return True


def _lookup(session: Session, table: type[ResultTable], keys: list[str], *columns: Any) -> list[Any]:
    """(key, *columns) of the stored rows of `keys`, a chunk of keys per query."""
    key_col, found = table.idempotency_key, list[Any]()
    for start in range(0, len(keys), LOOKUP_CHUNK):
        found += session.execute(select(key_col, *columns).where(key_col.in_(keys[start : start + LOOKUP_CHUNK])))
    return found


def _record_conflicts(
    session: Session, table: type[ResultTable], conflicts: Iterable[Conflict], batch_run_id: int | None, now: datetime
) -> None:
    """One idempotency_conflicts row per refused payload (once, however often it comes)."""
    values = [
        {
            "table_name": table.__tablename__,
            "idempotency_key": c.key,
            "existing_sha256": c.stored_sha256,
            "incoming_sha256": c.incoming_sha256,
            "existing_payload": c.stored_payload,
            "incoming_payload": c.incoming_payload,
            "batch_run_id": batch_run_id,
            "detected_at": now,
        }
        for c in conflicts
    ]
    if values:
        stmt = dialect_insert(session, IdempotencyConflict).on_conflict_do_nothing(
            index_elements=["idempotency_key", "incoming_sha256"]
        )
        session.execute(stmt, values)


def _merge(
    conn: Connection,
    table: type[ResultTable],
    source: MergeSource,
    batch_run_id: int | None,
    now: datetime,
    created_keys: bool = False,
) -> Merged:
    """One statement inserts the source's rows ON CONFLICT DO NOTHING and classifies the
    keys it did not insert by their stored hash. A key another transaction committed while
    it ran is neither: ON CONFLICT waited for it, the statement's snapshot is older. Then
    one second look, the same statement again (a newer snapshot), settles it."""
    sql = _merge_statement(table.__tablename__, source, created_keys)
    params = {**source.params, "wp_batch_run_id": batch_run_id, "wp_now": now}
    first = _merged(conn.exec_driver_sql(sql, params).one())
    if first.created + first.existing + len(first.conflicts) == first.taken:
        return first
    return first.settled_by(_merged(conn.exec_driver_sql(sql, params).one()))


def _merge_statement(name: str, source: MergeSource, created_keys: bool) -> str:
    src, cols = source.relation, ", ".join(source.columns)
    values = ", ".join("payload::jsonb" if c == "payload" else c for c in source.columns)
    order = f" ORDER BY {source.order_by}" if source.order_by else ""
    # `stored` reads the table as it was before the statement (it never sees a row just
    # inserted) and looks up only the keys not inserted: none on a first run. NOT EXISTS,
    # not NOT IN: an anti-join whatever the size (NOT IN over a CTE larger than work_mem is
    # a linear search per row: the ECB history's 222,000 keys took over 15 minutes).
    return (
        f"WITH {source.ctes + ', ' if source.ctes else ''}"
        f"ins AS (INSERT INTO {name} ({cols}, batch_run_id, created_at) "
        f"SELECT {values}, %(wp_batch_run_id)s::bigint, %(wp_now)s::timestamptz FROM {src}{order} "
        f"ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key), "
        f"stored AS MATERIALIZED (SELECT s.idempotency_key AS key, s.payload_sha256 AS sha, s.payload AS doc, "
        f"s.{source.order_by or 'idempotency_key'} AS ord, t.payload_sha256 AS stored_sha, t.payload AS stored_payload "
        f"FROM {src} s JOIN {name} t ON t.idempotency_key = s.idempotency_key "
        f"WHERE NOT EXISTS (SELECT 1 FROM ins i WHERE i.idempotency_key = s.idempotency_key)) "
        f"SELECT (SELECT count(*) FROM {src}), (SELECT count(*) FROM ins), "
        f"(SELECT count(*) FROM stored WHERE stored_sha = sha), "
        f"(SELECT coalesce(jsonb_agg(jsonb_build_array(key, stored_sha, stored_payload, doc::jsonb, sha) "
        f"ORDER BY ord), '[]') FROM stored WHERE stored_sha <> sha), "
        f"{_CREATED_KEYS if created_keys else 'NULL::text[]'}" + "".join(f", {e}" for e in source.extra)
    )


def _merged(row: Sequence[Any]) -> Merged:
    taken, created, existing, conflicts, keys, *extra = row
    found = [Conflict(key, stored_sha, stored, sha, incoming) for key, stored_sha, stored, incoming, sha in conflicts]
    return Merged(taken, created, existing, found, None if keys is None else set(keys), tuple(extra))
