"""The PostgreSQL bulk form of the write path: COPY into a temporary staging table, then
one INSERT .. SELECT .. ON CONFLICT DO NOTHING RETURNING, then one join that finds the keys
whose stored payload hash differs. Three statements for any number of rows."""
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
    # The anti-join skips keys already stored in one hash join (a rerun is mostly those);
    # ON CONFLICT still settles a key another transaction inserts meanwhile.
    inserted = {r[0] for r in conn.exec_driver_sql(
        f"INSERT INTO {name} ({col_list}) SELECT {col_list} FROM {staging} s WHERE NOT EXISTS "
        f"(SELECT 1 FROM {name} t WHERE t.idempotency_key = s.idempotency_key) "
        f"ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key")}
    differing = {r[0] for r in conn.exec_driver_sql(
        f"SELECT s.idempotency_key FROM {staging} s JOIN {name} t ON t.idempotency_key = s.idempotency_key "
        f"WHERE t.payload_sha256 <> s.payload_sha256")}
    conn.exec_driver_sql(f"TRUNCATE {staging}")
    return inserted, differing


def _psycopg(conn: Connection) -> psycopg.Connection[Any]:
    """The driver's connection under `conn`: COPY is psycopg's."""
    raw = conn.connection.dbapi_connection
    if not isinstance(raw, psycopg.Connection):
        raise TypeError(f"the staging path needs psycopg on PostgreSQL, not {type(raw).__name__}")
    return raw
