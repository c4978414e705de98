"""COPY into a staging table: how the PostgreSQL bulk form of the write path gets many rows
into the database in one round trip. What becomes of them (created, existing, conflict) is
db.writepath's merge, which reads the staging table as its source."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import psycopg
from sqlalchemy import JSON, Connection

from db.base import ResultTable


def copy_to_staging(
    conn: Connection, table: type[ResultTable], columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> str:
    """COPY `rows` (values in the order of `columns`) into this connection's temporary
    staging table of `table`, emptied first; returns its name. The staging table has the
    table's column types; a JSON column takes a Python value, but `payload` takes its
    canonical JSON text as it is (jsonb parses it once). A JSON column's value goes as its
    JSON text, without an adapter object per value (a reconciliation row has one: 40,000
    in an MT5 cycle)."""
    name = table.__tablename__
    staging, col_list = f"staging_{name}", ", ".join(columns)
    conn.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS {staging} AS SELECT {col_list} FROM {name} WITH NO DATA")
    conn.exec_driver_sql(f"TRUNCATE {staging}")
    wrapped = {i for i, c in enumerate(columns) if c != "payload" and isinstance(table.__table__.columns[c].type, JSON)}
    with _psycopg(conn).cursor().copy(f"COPY {staging} ({col_list}) FROM STDIN") as copy:
        for row in rows:
            if wrapped:
                row = list(row)
                for i in wrapped:
                    if row[i] is not None:
                        row[i] = _json_text(row[i])
            copy.write_row(row)
    return staging


_STDLIB_ONLY = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS


def _json_text(value: Any) -> str:
    """A JSON column's value as COPY's text, for a jsonb column: orjson's text, or the
    standard library's for what orjson would not spell as it does (a key that is not a
    string, an integer past 64 bits, a datetime, a dataclass, a subclass of str or int):
    jsonb stores the same value from either. (Rows come canonical: no floats.)"""
    try:
        return orjson.dumps(value, option=_STDLIB_ONLY).decode()
    except TypeError:  # orjson.JSONEncodeError is one
        return json.dumps(value)


def empty_staging(conn: Connection, staging: str) -> None:
    """The rows merged, the staging table is emptied so that it holds no payload past its use."""
    conn.exec_driver_sql(f"TRUNCATE {staging}")


def _psycopg(conn: Connection) -> psycopg.Connection[Any]:
    """The driver's connection under `conn`: COPY is psycopg's."""
    raw = conn.connection.dbapi_connection
    if not isinstance(raw, psycopg.Connection):
        raise TypeError(f"the staging path needs psycopg on PostgreSQL, not {type(raw).__name__}")
    return raw
