"""Scenarios 14 and 15 of the fault suite (issue 21, points 4 and 7), through the real
`hedgeops` CLI, a process per command, on SQLite and PostgreSQL, rows counted from the
database before and after.

14. Look-alike refs and units: a contract HC-K1 is loaded; then a file of four contracts
    that look the same (a Cyrillic К, a zero-width space, a right-to-left override, a
    fullwidth Ｋ), then a price file with LME-AL per `mт` (Cyrillic т) and LME-ZN per `t`
    (ASCII, not LME's configured `mt`) beside a good LME-CU row, then the real LME-AL price.
15. Poison values: a contract whose MTM is about 10^23 (NUMERIC(24, 2) holds below 10^22)
    beside an ordinary one, a price of 999999999999999999.9999995 (10^18 at 6 dp) beside a
    good one, then `run mtm`: one `value_out_of_range` exception, the ordinary contract
    valued, no traceback, on both databases (PostgreSQL values in the database by default,
    leaving the big product to core)."""

from __future__ import annotations

import json
import os
import subprocess
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select

from db.models import HedgeContract, MtmException, MtmSnapshot, SettlementPrice
from tests.builders import contract, contracts_csv
from tests.cluster import BIN, rows

HEADER = "symbol,price_date,price,currency,unit,price_type\n"


def hedgeops(db_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEDGEOPS_")}
    env.update(HEDGEOPS_DATABASE_URL=db_url, HEDGEOPS_PRICE_DROP_DIR=str(tmp_path / "incoming"))
    env["HEDGEOPS_LOG_LEVEL"] = "WARNING"
    done = subprocess.run(
        [str(BIN / "hedgeops"), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert "Traceback" not in done.stdout + done.stderr and "NumericValueOutOfRange" not in done.stderr
    return done


def write(tmp_path: Path, name: str, text: str) -> str:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return str(tmp_path / name)


def count(url: str, table: type) -> int:
    return int(rows(url, select(func.count()).select_from(table))[0][0])


def test_14_look_alike_refs_and_units_are_refused_and_the_real_ones_land(db_url: str, tmp_path: Path) -> None:
    first = hedgeops(db_url, tmp_path, "load", "contracts", write(tmp_path, "c1.csv", contracts_csv(contract("HC-K1"))))
    assert first.returncode == 0, first.stderr
    look_alikes = ["HC-\u041a1", "HC-\u200bK1", "HC-\u202eK1", "HC-\uff2b1"]
    before = count(db_url, HedgeContract)
    second = hedgeops(
        db_url, tmp_path, "load", "contracts", write(tmp_path, "c2.csv", contracts_csv(*map(contract, look_alikes)))
    )
    print(f"\n14: contracts {before} -> {count(db_url, HedgeContract)}; exit {second.returncode}")
    assert second.returncode == 2 and count(db_url, HedgeContract) == before == 1
    assert sum("contract_ref" in line for line in (second.stdout + second.stderr).splitlines()) == 4

    bad = HEADER + "LME-AL,2026-11-19,2563.50,USD,m\u0442,cash_settlement\n"
    bad += "LME-ZN,2026-11-19,2931.00,USD,t,cash_settlement\nLME-CU,2026-11-19,9876.50,USD,mt,cash_settlement\n"
    loaded = hedgeops(db_url, tmp_path, "load", "prices", write(tmp_path, "p1.csv", bad))
    said = loaded.stdout + loaded.stderr
    assert loaded.returncode == 1 and "1 created, 0 existing, 0 conflicts, 2 rejected" in said, said
    assert "p1.csv:2: unit" in said and "p1.csv:3: unit: t is not the configured unit of LME-ZN (mt)" in said
    real = hedgeops(
        db_url,
        tmp_path,
        "load",
        "prices",
        write(tmp_path, "p2.csv", HEADER + "LME-AL,2026-11-19,2563.50,USD,mt,cash_settlement\n"),
    )
    assert real.returncode == 0 and "1 created, 0 existing, 0 conflicts" in real.stdout + real.stderr
    stored = sorted(rows(db_url, select(SettlementPrice.symbol, SettlementPrice.unit)))
    print(f"14: prices 0 -> {len(stored)} {stored}; the real LME-AL created, not a conflict")
    assert [tuple(r) for r in stored] == [("LME-AL", "mt"), ("LME-CU", "mt")]


def test_15_poison_values_stay_in_their_row(db_url: str, tmp_path: Path) -> None:
    book = contracts_csv(
        contract("HC-BIG", quantity="100000", entry_price="0.000001"),  # 100000 * (10^18 - 2e-6): about 10^23
        contract("HC-OK", underlying="LME-CU", quantity="125", entry_price="9800.00"),
    )
    assert hedgeops(db_url, tmp_path, "load", "contracts", write(tmp_path, "c.csv", book)).returncode == 0
    prices = HEADER + "LME-AL,2026-11-19,999999999999999999.999999,USD,mt,cash_settlement\n"
    prices += "LME-ZN,2026-11-19,999999999999999999.9999995,USD,mt,cash_settlement\n"  # 10^18 at 6 dp
    prices += "LME-CU,2026-11-19,9876.50,USD,mt,cash_settlement\n"
    loaded = hedgeops(db_url, tmp_path, "load", "prices", write(tmp_path, "p.csv", prices))
    said = loaded.stdout + loaded.stderr
    assert loaded.returncode == 1 and "p.csv:3: price: must be less than 1E+18 at 6 decimal places" in said, said
    assert count(db_url, SettlementPrice) == 2
    ran = hedgeops(db_url, tmp_path, "run", "mtm", "--in-process", "--as-of", "2026-11-20", "--json")
    run = json.loads(ran.stdout)
    snaps = dict(
        rows(
            db_url,
            select(HedgeContract.contract_ref, MtmSnapshot.mtm_value).join(
                MtmSnapshot, MtmSnapshot.object_id == HedgeContract.id
            ),
        )
    )
    reasons = dict(
        rows(
            db_url,
            select(HedgeContract.contract_ref, MtmException.reason).join(
                MtmException, MtmException.object_id == HedgeContract.id
            ),
        )
    )
    print(
        f"\n15: run {run['status']} exit {ran.returncode} counts {run['counts']};",
        f"snapshots {snaps}; exceptions {reasons}",
    )
    assert (ran.returncode, run["status"]) == (5, "completed_with_exceptions")
    assert reasons == {"HC-BIG": "value_out_of_range"}
    # HC-OK: buy 125 mt * (9876.50 - 9800.00) = 9562.50
    assert snaps == {"HC-OK": Decimal("9562.50")}
