"""The references of the MTM benchmark, measured in the same run as the pipeline.

- The SQL reference: one set-based statement, in the pipeline's own database, that computes
  the same snapshots (mtm half-even to the cent), keys, canonical payloads (the same JSON
  text, byte for byte) and SHA-256 from hedge_contracts and settlement_prices, into
  `ref_mtm_snapshots` (a copy of mtm_snapshots with the same columns, unique keys and
  indexes): `INSERT .. SELECT .. ON CONFLICT (idempotency_key) DO NOTHING`, first into the
  empty copy, then again (every key there). Afterwards its hashes are compared with the
  pipeline's, so the reference is known to compute the same thing.
- The COPY floor: the snapshot rows the pipeline wrote, read back, stored again into
  mtm_snapshots of a fresh database by COPY (and, for comparison, an executemany INSERT).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from benchkit import cpu_seconds, scratch_database
from psycopg.types.json import Jsonb
from sqlalchemy import Connection, insert, select, text

from db.engine import engine_for
from db.models import MtmSnapshot
from db.mtm_in_database import SNAPSHOT_COLUMNS, JsonText, commodity_mtm, snapshot_select


def reference_sql(as_of: date, price_date: date) -> str:
    """The set-based statement: the pipeline's snapshots of every active commodity contract,
    whole-book, its expressions from db.mtm_in_database (the pipeline's own per-chunk
    statement is built from the same ones, its columns and key from core's one list)."""
    mtm = commodity_mtm("c.side", "c.quantity", "p.price", "c.entry_price")
    fields = {
        "object_type": "'hedge_contract'::text",
        "object_id": "c.id",
        "as_of_date": f"DATE '{as_of.isoformat()}'",
        "price_date": "p.price_date",
        "price_id": "p.id",
        "mtm_value": "v.mtm",
        "price_d1": "p.price",
        "entry_price": "c.entry_price",
        "quantity_mt": "c.quantity",
        "currency": "c.currency",
    }
    texts = {"as_of_date": JsonText(f"'{as_of.isoformat()}'"), "price_date": JsonText(f"'{price_date.isoformat()}'")}
    select_list, payload = snapshot_select(fields, texts, correlation_id="NULL", jsonb=True)
    return (
        f"INSERT INTO ref_mtm_snapshots ({', '.join(SNAPSHOT_COLUMNS)}, created_at) SELECT {select_list}, now() "
        f"FROM hedge_contracts c JOIN settlement_prices p "
        f"ON p.symbol = c.underlying AND p.price_date = DATE '{price_date.isoformat()}' "
        f"CROSS JOIN LATERAL (SELECT {mtm} AS mtm) v {payload} "
        f"WHERE c.status = 'active' AND c.instrument = 'commodity_forward' "
        f"ON CONFLICT (idempotency_key) DO NOTHING"
    )


@dataclass(frozen=True, slots=True)
class SqlReference:
    """Seconds of the statement into the empty copy and again (wall, and CPU of its
    PostgreSQL backend); rows; hashes equal to the pipeline's."""

    first: float
    rerun: float
    rows: int
    same_hash: int
    first_cpu: float = 0.0
    rerun_cpu: float = 0.0


def time_sql_reference(url: str, as_of: date, price_date: date) -> SqlReference:
    """Both runs of the statement, each its own transaction, in the pipeline's database."""
    engine, sql = engine_for(url), reference_sql(as_of, price_date)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS ref_mtm_snapshots"))
        conn.execute(text("CREATE TABLE ref_mtm_snapshots (LIKE mtm_snapshots INCLUDING ALL)"))
    seconds, cpu = [], []
    for _ in range(2):
        started = time.perf_counter()
        with engine.begin() as conn:
            backend = int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
            before = cpu_seconds([backend]).get(backend, 0.0)
            conn.exec_driver_sql(sql)  # no bind parameters: its text has ':' in dates and keys
            cpu.append(cpu_seconds([backend]).get(backend, 0.0) - before)
        seconds.append(time.perf_counter() - started)
    with engine.connect() as conn:
        rows = conn.scalar(text("SELECT count(*) FROM ref_mtm_snapshots")) or 0
        same = (
            conn.scalar(
                text(
                    "SELECT count(*) FROM ref_mtm_snapshots r JOIN mtm_snapshots m "
                    "USING (idempotency_key) WHERE r.payload_sha256 = m.payload_sha256"
                )
            )
            or 0
        )
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE ref_mtm_snapshots"))
    return SqlReference(seconds[0], seconds[1], int(rows), int(same), cpu[0], cpu[1])


# -- the COPY floor ----------------------------------------------------------------------------


def written_snapshots(url: str) -> list[dict[str, Any]]:
    """The snapshot rows the pipeline wrote, as the floor stores them again: every column
    but the id, and no batch run (the floor's database has none)."""
    columns = [c for c in MtmSnapshot.__table__.columns if c.name != "id"]
    with engine_for(url).connect() as conn:
        rows = [dict(row._mapping) for row in conn.execute(select(*columns).order_by(MtmSnapshot.id))]
    return [{**row, "batch_run_id": None} for row in rows]


def copy_rows(conn: Connection, values: list[dict[str, Any]]) -> None:
    """COPY the rows into mtm_snapshots (the payload goes as jsonb, serialised here)."""
    columns = list(values[0])
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY mtm_snapshots ({', '.join(columns)}) FROM STDIN") as copy:
        for value in values:
            copy.write_row([Jsonb(v) if k == "payload" else v for k, v in value.items()])


def insert_rows(conn: Connection, values: list[dict[str, Any]]) -> None:
    """One SQLAlchemy Core executemany INSERT into mtm_snapshots."""
    conn.execute(insert(MtmSnapshot), values)


#: The floors: the same N snapshot rows stored without valuation, idempotency or Celery.
#: The first is the one the runs are compared with.
REFERENCES: dict[str, Callable[[Connection, list[dict[str, Any]]], None]] = {
    "COPY": copy_rows,
    "executemany INSERT": insert_rows,
}


def time_floor(
    admin_url: str, keep: bool, name: str, values: list[dict[str, Any]], seed_prices: Callable[[str], None]
) -> float:
    """Seconds to store the rows in a fresh database by one method, in one transaction."""
    with scratch_database(admin_url, keep, f"reference ({name})") as url:
        seed_prices(url)  # a fresh database numbers the prices as the pipeline's did
        started = time.perf_counter()
        with engine_for(url).begin() as conn:
            REFERENCES[name](conn, values)
        return time.perf_counter() - started
