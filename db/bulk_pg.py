"""COPY into a staging table: how the PostgreSQL bulk form of the write path gets many rows
into the database in one round trip. What becomes of them (created, existing, conflict) is
db.writepath's merge, which reads the staging table as its source."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import JSON, Connection

from db.base import ResultTable


def copy_to_staging(
    conn: Connection, table: type[ResultTable], columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> str:
    """COPY `rows` (values in the order of `columns`) into this connection's temporary
    staging table of `table`, emptied first; returns its name. The staging table has the
    table's column types; a JSON column takes a Python value, but `payload` takes its
    canonical JSON text as it is (jsonb parses it once)."""
    name = table.__tablename__
    staging, col_list = f"staging_{name}", ", ".join(columns)
    conn.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS {staging} AS SELECT {col_list} FROM {name} WITH NO DATA")
    conn.exec_driver_sql(f"TRUNCATE {staging}")
    wrapped = {i for i, c in enumerate(columns) if c != "payload" and isinstance(table.__table__.columns[c].type, JSON)}
    with _psycopg(conn).cursor().copy(f"COPY {staging} ({col_list}) FROM STDIN") as copy:
        for row in rows:
            if wrapped:
                row = [Jsonb(v) if i in wrapped and v is not None else v for i, v in enumerate(row)]
            copy.write_row(row)
    return staging


def empty_staging(conn: Connection, staging: str) -> None:
    """The rows merged, the staging table is emptied so that it holds no payload past its use."""
    conn.exec_driver_sql(f"TRUNCATE {staging}")


def _psycopg(conn: Connection) -> psycopg.Connection[Any]:
    """The driver's connection under `conn`: COPY is psycopg's."""
    raw = conn.connection.dbapi_connection
    if not isinstance(raw, psycopg.Connection):
        raise TypeError(f"the staging path needs psycopg on PostgreSQL, not {type(raw).__name__}")
    return raw
