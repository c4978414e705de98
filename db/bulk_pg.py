"""The PostgreSQL bulk form of the write path.

1. One probe: the batch's keys and hashes as two array parameters, joined to the table in
   the database; back come only the keys not stored yet and those stored with another
   hash. A rerun (every key stored, same payloads) ends here: one statement per batch.
2. The rows of the keys not stored: COPY into a temporary staging table, then one
   statement that inserts them (INSERT .. SELECT .. ON CONFLICT DO NOTHING RETURNING) and
   compares the stored hash of any key another transaction stored meanwhile."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import JSON, Connection
from sqlalchemy.orm import Session

from db.base import ResultTable

if TYPE_CHECKING:
    from db.writepath import ResultRow


def insert_via_staging(
    session: Session, table: type[ResultTable], rows: Sequence[ResultRow], common: dict[str, Any]
) -> tuple[set[str], set[str]]:
    """Insert `rows` (one per key, all with the same columns); returns (inserted keys,
    keys already stored with another payload hash)."""
    conn = session.connection()
    missing, differing = _probe(conn, table.__tablename__, rows)
    if not missing:
        return set(), differing
    inserted, raced = _copy_and_merge(conn, table, [row for row in rows if row.key in missing], common)
    return inserted, differing | raced


def _probe(conn: Connection, name: str, rows: Sequence[ResultRow]) -> tuple[set[str], set[str]]:
    """(keys not stored, keys stored with another hash), the hashes compared in the database."""
    sql = (
        f"SELECT s.k, t.payload_sha256 IS NULL FROM unnest(%s::text[], %s::text[]) AS s(k, h) "
        f"LEFT JOIN {name} t ON t.idempotency_key = s.k WHERE t.payload_sha256 IS DISTINCT FROM s.h"
    )
    missing: set[str] = set()
    differing: set[str] = set()
    for key, absent in conn.exec_driver_sql(sql, ([r.key for r in rows], [r.sha256 for r in rows])):
        (missing if absent else differing).add(key)
    return missing, differing


def _copy_and_merge(
    conn: Connection, table: type[ResultTable], rows: Sequence[ResultRow], common: dict[str, Any]
) -> tuple[set[str], set[str]]:
    name = table.__tablename__
    own = list(rows[0].columns)
    columns = [*own, "idempotency_key", "payload", "payload_sha256", *common]
    json_cols = {c.name for c in table.__table__.columns if isinstance(c.type, JSON)}
    staging, col_list = f"staging_{name}", ", ".join(columns)
    conn.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS {staging} AS SELECT {col_list} FROM {name} WITH NO DATA")
    conn.exec_driver_sql(f"TRUNCATE {staging}")
    cursor = _psycopg(conn).cursor()
    tail = list(common.values())
    with cursor.copy(f"COPY {staging} ({col_list}) FROM STDIN") as copy:
        for row in rows:
            values = [Jsonb(v) if c in json_cols and v is not None else v for c, v in row.columns.items()]
            # The payload's canonical JSON text goes in as it is: jsonb parses it once.
            copy.write_row([*values, row.key, row.payload_json or json.dumps(row.payload), row.sha256, *tail])
    inserted, differing, matched = _merge(conn, name, staging, col_list)
    if len(inserted) + matched < len(rows):
        # A key another transaction committed after this statement's snapshot: neither
        # inserted nor seen. A second look (a newer snapshot) settles its hash.
        differing = _differing(conn, name, staging)
    conn.exec_driver_sql(f"TRUNCATE {staging}")
    return inserted, differing


def _merge(conn: Connection, name: str, staging: str, col_list: str) -> tuple[set[str], set[str], int]:
    """Insert what is new; (inserted keys, stored keys whose hash differs, stored keys seen).

    The anti-join skips keys already stored in one hash join (a rerun is mostly those); ON
    CONFLICT still settles a key another transaction inserts meanwhile. The `stored` part
    reads the table as it was before this statement, so it sees no row just inserted."""
    sql = (
        f"WITH inserted AS (INSERT INTO {name} ({col_list}) SELECT {col_list} FROM {staging} s "
        f"WHERE NOT EXISTS (SELECT 1 FROM {name} t WHERE t.idempotency_key = s.idempotency_key) "
        f"ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key), "
        f"stored AS MATERIALIZED (SELECT s.idempotency_key, t.payload_sha256 <> s.payload_sha256 AS differs "
        f"FROM {staging} s JOIN {name} t ON t.idempotency_key = s.idempotency_key) "
        f"SELECT 'c', idempotency_key FROM inserted "
        f"UNION ALL SELECT 'd', idempotency_key FROM stored WHERE differs "
        f"UNION ALL SELECT 'n', count(*)::text FROM stored"
    )
    inserted: set[str] = set()
    differing: set[str] = set()
    matched = 0
    for kind, value in conn.exec_driver_sql(sql):
        if kind == "c":
            inserted.add(value)
        elif kind == "d":
            differing.add(value)
        else:
            matched = int(value)
    return inserted, differing, matched


def _differing(conn: Connection, name: str, staging: str) -> set[str]:
    return {
        r[0]
        for r in conn.exec_driver_sql(
            f"SELECT s.idempotency_key FROM {staging} s JOIN {name} t ON t.idempotency_key = s.idempotency_key "
            f"WHERE t.payload_sha256 <> s.payload_sha256"
        )
    }


def _psycopg(conn: Connection) -> psycopg.Connection[Any]:
    """The driver's connection under `conn`: COPY is psycopg's."""
    raw = conn.connection.dbapi_connection
    if not isinstance(raw, psycopg.Connection):
        raise TypeError(f"the staging path needs psycopg on PostgreSQL, not {type(raw).__name__}")
    return raw
