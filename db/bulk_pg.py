"""The PostgreSQL bulk form of the write path: COPY into a temporary staging table, then
one statement that inserts the new keys (INSERT .. SELECT .. ON CONFLICT DO NOTHING
RETURNING) and, in the same statement, compares the stored hash of every key already
there. A rerun (every key stored) is that one statement per batch: keys and hashes are
checked in the database, none comes back but the ones that differ."""
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


def insert_via_staging(session: Session, table: type[ResultTable], rows: Sequence[ResultRow],
                       common: dict[str, Any]) -> tuple[set[str], set[str]]:
    """Insert `rows` (one per key, all with the same columns); returns (inserted keys,
    keys already stored with another payload hash)."""
    name = table.__tablename__
    own = list(rows[0].columns)
    columns = [*own, "idempotency_key", "payload", "payload_sha256", *common]
    json_cols = {c.name for c in table.__table__.columns if isinstance(c.type, JSON)}
    staging, col_list = f"staging_{name}", ", ".join(columns)
    conn = session.connection()
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
    sql = (f"WITH inserted AS (INSERT INTO {name} ({col_list}) SELECT {col_list} FROM {staging} s "
           f"WHERE NOT EXISTS (SELECT 1 FROM {name} t WHERE t.idempotency_key = s.idempotency_key) "
           f"ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key), "
           f"stored AS MATERIALIZED (SELECT s.idempotency_key, t.payload_sha256 <> s.payload_sha256 AS differs "
           f"FROM {staging} s JOIN {name} t ON t.idempotency_key = s.idempotency_key) "
           f"SELECT 'c', idempotency_key FROM inserted "
           f"UNION ALL SELECT 'd', idempotency_key FROM stored WHERE differs "
           f"UNION ALL SELECT 'n', count(*)::text FROM stored")
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
    return {r[0] for r in conn.exec_driver_sql(
        f"SELECT s.idempotency_key FROM {staging} s JOIN {name} t ON t.idempotency_key = s.idempotency_key "
        f"WHERE t.payload_sha256 <> s.payload_sha256")}


def _psycopg(conn: Connection) -> psycopg.Connection[Any]:
    """The driver's connection under `conn`: COPY is psycopg's."""
    raw = conn.connection.dbapi_connection
    if not isinstance(raw, psycopg.Connection):
        raise TypeError(f"the staging path needs psycopg on PostgreSQL, not {type(raw).__name__}")
    return raw
