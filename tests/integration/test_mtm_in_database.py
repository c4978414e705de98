"""MTM valued set-based in PostgreSQL (db.mtm_in_database) against core's Python path:
the same book, the same clock and task ids, once with HEDGEOPS_MTM_IN_DATABASE on and once
off, must leave the same rows, column for column, in every table the run writes."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest
import structlog
from sqlalchemy import create_engine, text
from structlog.testing import capture_logs

from core.canonical import canonical_json, payload_sha256
from db import ledger
from tasks.loading import load_contracts_csv
from tasks.ports import Ports, configure
from tasks.summary import run_summary
from tests.builders import contract, contracts_csv, prices_csv
from tests.conftest import truncate_all
from tests.fakes import InMemoryPriceSource
from tests.hedging_builders import eurusd_csv, fx_contracts_csv, fx_forward

AS_OF = "2026-11-20"  # Friday: D-1 of the LME (England and Wales) is Thursday 2026-11-19
D1 = "2026-11-19"
PRICES = (
    ("LME-AL", D1, "2510.125"),
    ("LME-CU", D1, "9875.500000"),
    ("LME-ZN", D1, "2998.25"),
    ("LME-PB", D1, "1999.999999"),
)

#: (ref, fields, the MTM by hand: side * quantity * (price_d1 - entry_price), half-even to the cent)
BOOK: list[tuple[str, dict[str, str], str | None]] = [
    ("TIE-DOWN", {"quantity": "1", "entry_price": "2510"}, "0.12"),  # 1 * 0.125 = 0.125 -> 0.12 (even)
    ("TIE-UP", {"quantity": "3", "entry_price": "2510"}, "0.38"),  # 3 * 0.125 = 0.375 -> 0.38 (even)
    ("TIE-DOWN-SELL", {"side": "sell", "quantity": "1", "entry_price": "2510"}, "-0.12"),  # -0.125 -> -0.12
    ("TIE-UP-SELL", {"side": "sell", "quantity": "3", "entry_price": "2510"}, "-0.38"),  # -0.375 -> -0.38
    ("ZERO", {"quantity": "40", "entry_price": "2510.125"}, "0.00"),  # 40 * 0 = 0
    ("MINUS-ZERO", {"side": "sell", "quantity": "0.000001", "entry_price": "2500"}, "0.00"),
    # ^ -1 * 0.000001 * 10.125 = -0.000010125 -> -0.00, stored and hashed as 0
    ("TRAILING", {"underlying": "LME-CU", "quantity": "10.000", "entry_price": "9800.500000"}, "750.00"),
    # ^ 10 * (9875.5 - 9800.5) = 750; "10", "9800.5", "9875.5", "750" in the payload
    ("DECIMALS", {"underlying": "LME-PB", "quantity": "1.234567", "entry_price": "1987.654321"}, "15.24"),
    # ^ 1.234567 * (1999.999999 - 1987.654321) = 1.234567 * 12.345678 = 15.241567...626 -> 15.24
    ("BIG", {"underlying": "LME-ZN", "quantity": "999999999999", "entry_price": "2000"}, "998249999999001.75"),
    # ^ 999999999999 * 998.25 = 998249999999001.75 (under 10^16: in the database)
    (
        "HUGE",
        {"underlying": "LME-ZN", "quantity": "100000000000000", "entry_price": "1000.000001"},
        "199824999900000000.00",
    ),
    # ^ 10^14 * (2998.25 - 1000.000001) = 10^14 * 1998.249999: over 10^16, core values it (28 digits)
    ("SELL-LOSS", {"underlying": "LME-CU", "side": "sell", "quantity": "75.5", "entry_price": "9790.25"}, "-6436.38"),
    # ^ -1 * 75.5 * (9875.5 - 9790.25) = -6436.375 -> -6436.38 (half-even: 7 is odd, up to 8)
    ("NO-PRICE", {"underlying": "LME-NI"}, None),  # price_unavailable (core)
    ("EUR-MISMATCH", {"currency": "EUR"}, None),  # currency_mismatch (core)
    ("SETTLED", {"status": "settled"}, None),  # not valued
]
IN_DATABASE = 10  # the rows above with an MTM, but HUGE; the FX forward is core's too


@pytest.fixture
def db_url(pg_url: str) -> str:
    """PostgreSQL only: the statement is PostgreSQL's."""
    return pg_url


def seed(price_source: InMemoryPriceSource) -> None:
    """Commodity forwards, an FX forward between them (a chunk of both kinds), prices."""
    load_contracts_csv(contracts_csv(*(contract(ref, **fields) for ref, fields, _ in BOOK[:7])), "a.csv")
    load_contracts_csv(fx_contracts_csv(fx_forward("FX-1")), "fx.csv")
    load_contracts_csv(contracts_csv(*(contract(ref, **fields) for ref, fields, _ in BOOK[7:])), "b.csv")
    price_source.files.clear()
    price_source.add("p.csv", prices_csv(*PRICES))
    price_source.add("fx.csv", eurusd_csv((D1, "1.0512")))


def run_mtm(task_id: str) -> tuple[dict[str, Any], int]:
    """The MTM job, eager; its run's summary at the end and how many contracts its chunks
    valued in the database."""
    from tasks.ports import ports
    from tasks.valuation import compute_mtm_snapshots

    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        started = compute_mtm_snapshots.apply(kwargs={"as_of": AS_OF}, task_id=task_id).get()
    with ports().uow() as uow:
        summary = run_summary(ledger.get_run(uow.session, started["batch_run_id"]))
    return summary, sum(e.get("in_database", 0) for e in logs if e["event"] == "mtm_chunk_written")


TABLES = {  # every table the MTM run writes, in a stable order; the rows as text, every column
    # (but a snapshot's surrogate id: a chunk's rows from the database are inserted before
    # core's; and a run's lock token, random)
    "mtm_snapshots": "idempotency_key",
    "mtm_exceptions": "idempotency_key",
    "idempotency_conflicts": "idempotency_key, incoming_sha256",
    "batch_runs": "id",
    "batch_run_chunks": "batch_run_id, chunk_no",
    "audit_events": "id",
}

ROW_TEXT = {"mtm_snapshots": "(to_jsonb(t) - 'id')::text", "batch_runs": "(to_jsonb(t) - 'lock_token')::text"}


def dump(url: str) -> dict[str, list[str]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        found = {
            name: [
                str(r[0])
                for r in conn.execute(text(f"SELECT {ROW_TEXT.get(name, 't::text')} FROM {name} t ORDER BY {order}"))
            ]
            for name, order in TABLES.items()
        }
    engine.dispose()
    return found


def alter_snapshot(url: str, ref: str) -> None:
    """Someone changed a stored snapshot's payload and hash (past the append-only trigger)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(
            text(
                "UPDATE mtm_snapshots s SET payload = jsonb_set(payload, '{mtm_value}', '\"1\"'), "
                "payload_sha256 = repeat('0', 64) FROM hedge_contracts c "
                "WHERE c.id = s.object_id AND c.contract_ref = :ref"
            ),
            {"ref": ref},
        )
    engine.dispose()


def scenario(runtime: Ports, price_source: InMemoryPriceSource, url: str) -> dict[str, Any]:
    """Seed, run, run again, alter a snapshot, run a third time: what each run said and wrote."""
    from tasks.prices import fetch_settlement_prices

    seed(price_source)
    fetch_settlement_prices.apply(kwargs={"as_of": AS_OF}, task_id="prices").get()
    first, first_db = run_mtm("mtm-1")
    after_first = dump(url)
    again, again_db = run_mtm("mtm-2")
    alter_snapshot(url, "TIE-UP")
    third, third_db = run_mtm("mtm-3")
    return {
        "summaries": [first, again, third],
        "in_database": [first_db, again_db, third_db],
        "after_first": after_first,
        "end": dump(url),
    }


def in_python(runtime: Ports) -> Ports:
    changed = replace(runtime, mtm_in_database=False)
    configure(changed)
    return changed


@pytest.fixture
def book_runtime(runtime: Ports) -> Ports:
    """Chunks of four: the FX forward shares a chunk with commodity forwards."""
    changed = replace(runtime, chunk_size=4)
    configure(changed)
    return changed


class TestSameRowsAsCore:
    def test_every_row_of_every_table_equals_the_python_paths(
        self, book_runtime: Ports, price_source: InMemoryPriceSource, pg_url: str
    ) -> None:
        sql = scenario(book_runtime, price_source, pg_url)
        truncate_all(pg_url)
        python = scenario(in_python(book_runtime), price_source, pg_url)

        assert sql["in_database"] == [IN_DATABASE] * 3 and python["in_database"] == [0, 0, 0]
        assert sql["summaries"] == python["summaries"]
        for name in TABLES:
            assert sql["after_first"][name] == python["after_first"][name], name
            assert sql["end"][name] == python["end"][name], name

    def test_values_by_hand_hashes_of_core_and_the_counts_of_each_run(
        self, book_runtime: Ports, price_source: InMemoryPriceSource, pg_url: str
    ) -> None:
        sql = scenario(book_runtime, price_source, pg_url)
        valued = [(ref, mtm) for ref, _, mtm in BOOK if mtm is not None]
        first, again, third = (s["counts"] for s in sql["summaries"])
        snapshots = len(valued) + 1  # 11 commodity snapshots and the FX forward's
        assert first == {
            "processed": snapshots + 2,
            "created": snapshots,
            "existing": 0,
            "conflicts": 0,
            "exceptions": 2,
        }
        assert again == {
            "processed": snapshots + 2,
            "created": 0,
            "existing": snapshots,
            "conflicts": 0,
            "exceptions": 2,
        }
        assert third == {
            "processed": snapshots + 2,
            "created": 0,
            "existing": snapshots - 1,
            "conflicts": 1,
            "exceptions": 2,
        }
        engine = create_engine(pg_url)
        with engine.connect() as conn:
            rows = {
                r.contract_ref: r
                for r in conn.execute(
                    text(
                        "SELECT c.contract_ref, s.mtm_value, s.payload, s.payload_sha256, s.batch_run_id, "
                        "s.correlation_id "
                        "FROM mtm_snapshots s JOIN hedge_contracts c ON c.id = s.object_id"
                    )
                )
            }
            conflict = conn.execute(
                text(
                    "SELECT idempotency_key, existing_sha256, incoming_sha256, incoming_payload, batch_run_id "
                    "FROM idempotency_conflicts"
                )
            ).one()
            exceptions = dict(
                conn.execute(
                    text(
                        "SELECT c.contract_ref, e.reason FROM mtm_exceptions e JOIN hedge_contracts c ON c.id = "
                        "e.object_id"
                    )
                ).all()
            )
        engine.dispose()
        assert {ref: str(rows[ref].mtm_value) for ref, _ in valued} == dict(valued)
        for ref, _ in valued:  # the stored hash is core's hash of the stored payload, in core's JSON text
            if ref != "TIE-UP":
                assert rows[ref].payload_sha256 == payload_sha256(rows[ref].payload), ref
        assert canonical_json(rows["TRAILING"].payload) == (
            '{"as_of_date":"2026-11-20","currency":"USD","entry_price":"9800.5","mtm_value":"750",'
            f'"object_id":{rows["TRAILING"].payload["object_id"]},"object_type":"hedge_contract",'
            '"price_d1":"9875.5","price_date":"2026-11-19",'
            f'"price_id":{rows["TRAILING"].payload["price_id"]},"quantity_mt":"10"}}'
        )
        assert rows["MINUS-ZERO"].payload["mtm_value"] == "0"
        assert (rows["ZERO"].batch_run_id, rows["ZERO"].correlation_id) == (2, "mtm-1")
        assert exceptions == {"NO-PRICE": "price_unavailable", "EUR-MISMATCH": "currency_mismatch"}
        key = conflict.idempotency_key
        assert (conflict.existing_sha256, conflict.batch_run_id) == ("0" * 64, 4)
        assert conflict.incoming_sha256 == payload_sha256(conflict.incoming_payload)
        assert key.startswith("MTM:hedge_contract:") and conflict.incoming_payload["mtm_value"] == "0.38"


class TestVerify:
    def test_verify_is_clean_after_a_run_in_the_database(
        self, book_runtime: Ports, price_source: InMemoryPriceSource, pg_url: str, embedded_cli: Any
    ) -> None:
        from tasks.prices import fetch_settlement_prices
        from workers.cli import app

        seed(price_source)
        fetch_settlement_prices.apply(kwargs={"as_of": AS_OF}).get()
        _, in_database = run_mtm("mtm-1")
        assert in_database == IN_DATABASE
        clean = embedded_cli.invoke(app, ["verify", "--as-of", AS_OF])
        assert (clean.exit_code, clean.stdout.strip().splitlines()[-1]) == (
            0,
            f"{AS_OF}: 12 of 12 snapshots recomputed, 0 journal entries recomputed, 0 finding(s)",
        ), clean.output
        alter_snapshot(pg_url, "DECIMALS")
        found = embedded_cli.invoke(app, ["verify", "--as-of", AS_OF])
        assert found.exit_code == 1, found.output


class TestKeyStoredMeanwhile:
    """Another transaction stores one of the chunk's keys while the statement runs: ON
    CONFLICT waits for it, the statement's snapshot does not see it; the second look
    settles it as existing (same hash) or conflict (another hash)."""

    @pytest.mark.parametrize(("stored_sha", "outcome"), [(None, "existing"), ("0" * 64, "conflicts")])
    def test_the_raced_key_is_counted_once(
        self, runtime: Ports, price_source: InMemoryPriceSource, pg_url: str, stored_sha: str | None, outcome: str
    ) -> None:
        import threading
        import time

        from core.plans import KeyRange
        from core.values import Counts
        from db.engine import session_factory
        from db.mtm_in_database import InDatabase, value_commodities_in_range
        from db.prices import prices_on
        from tasks.prices import fetch_settlement_prices

        load_contracts_csv(contracts_csv(*(contract(f"R{i}", quantity=str(i + 1)) for i in range(3))), "r.csv")
        price_source.add("p.csv", prices_csv(("LME-AL", D1, "2510.125")))
        fetch_settlement_prices.apply(kwargs={"as_of": AS_OF}).get()
        day, now = date.fromisoformat(AS_OF), runtime.clock()
        sessions = session_factory(pg_url)
        other, mine = sessions(), sessions()
        prices = list(prices_on(other, {"LME-AL": date.fromisoformat(D1)}).values())

        def write(s: Any, ids: KeyRange) -> InDatabase:
            return value_commodities_in_range(s, ids, day, prices, batch_run_id=None, now=now, correlation_id="c")

        write(other, KeyRange(2, 2))  # key 2 stored, not committed yet
        if stored_sha is not None:
            other.execute(text("SET LOCAL session_replication_role = replica"))
            other.execute(text("UPDATE mtm_snapshots SET payload_sha256 = :sha"), {"sha": stored_sha})
        pid = mine.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        done: list[InDatabase] = []
        worker = threading.Thread(target=lambda: done.append(write(mine, KeyRange(1, 3))))
        worker.start()
        deadline = time.monotonic() + 30
        while not other.execute(
            text("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
        ).scalar():
            assert time.monotonic() < deadline, "the statement never waited for the other transaction"
            time.sleep(0.05)
        other.commit()
        worker.join(timeout=30)
        mine.commit()
        expected = Counts(processed=3, created=2, **{outcome: 1})
        assert done and (done[0].counts, done[0].rest) == (expected, [])
        conflicts = mine.execute(text("SELECT existing_sha256 FROM idempotency_conflicts")).scalars().all()
        assert conflicts == ([stored_sha] if stored_sha else [])
        assert mine.execute(text("SELECT count(*) FROM mtm_snapshots")).scalar() == 3
        other.close()
        mine.close()
