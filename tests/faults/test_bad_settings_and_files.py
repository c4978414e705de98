"""Scenarios 10 and 11 of the fault suite: bad settings stop the CLI, a worker and beat
with one line naming the setting and exit 2; malformed files give a clear error per row
or file, no traceback and no partial write; a poison price file is quarantined beside
good files that land."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from core.contracts import parse_contract_csv
from core.prices import parse_price_csv
from db.models import AuditEvent, HedgeContract, SettlementPrice
from tests.builders import contract, contracts_csv, prices_csv
from tests.cluster import BIN, rows

BAD_SETTINGS = [
    ({"HEDGEOPS_TASK_TIME_LIMIT": "3600", "HEDGEOPS_VISIBILITY_TIMEOUT": "3600"}, "visibility_timeout"),
    ({"HEDGEOPS_BROKER_URL": "not-a-url"}, "HEDGEOPS_BROKER_URL"),
    ({"HEDGEOPS_MTM_CHUNK_SIZE": "-5"}, "HEDGEOPS_MTM_CHUNK_SIZE"),
    ({"HEDGEOPS_NIGHTLY_AT": "25:99"}, "HEDGEOPS_NIGHTLY_AT"),
    ({"HEDGEOPS_PRICE_SOURCES": "[{"}, "HEDGEOPS_PRICE_SOURCES"),
    ({"HEDGEOPS_SYMBOL_CALENDARS": "{bad"}, "HEDGEOPS_SYMBOL_CALENDARS"),
    ({"HEDGEOPS_DISCOUNT_RATES": "nope"}, "HEDGEOPS_DISCOUNT_RATES"),
    ({"HEDGEOPS_CHUNK_RESEND_AFTER": "900", "HEDGEOPS_RUN_STALE_AFTER": "600"}, "chunk_resend_after"),
    ({"HEDGEOPS_MAX_MESSAGE_KB": "0"}, "HEDGEOPS_MAX_MESSAGE_KB"),
    ({"HEDGEOPS_MAX_MESSAGE_KB": "64k"}, "HEDGEOPS_MAX_MESSAGE_KB"),
]
COMMANDS = {
    "cli": [str(BIN / "hedgeops"), "status"],
    "worker": [str(BIN / "celery"), "-A", "workers.celery_app", "worker", "-c", "1", "--without-mingle"],
    "beat": [str(BIN / "celery"), "-A", "workers.celery_app", "beat"],
}


@pytest.mark.parametrize("process", sorted(COMMANDS))
@pytest.mark.parametrize(("bad", "named"), BAD_SETTINGS, ids=[n for _, n in BAD_SETTINGS])
def test_10_a_bad_setting_is_one_line_and_exit_2(process: str, bad: dict[str, str], named: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEDGEOPS_")}
    env.update(HEDGEOPS_DATABASE_URL=f"sqlite:///{tmp_path}/h.db", **bad)
    done = subprocess.run(
        COMMANDS[process], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False
    )
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and named in lines[0] and "Traceback" not in done.stderr, done.stderr


HOSTILE_CELLS = ["１２３", "1e400", "\x00", "12\x0734", "0001-01-01", "9999-12-31", "NaN", "-0", "\u202e99"]


@pytest.mark.parametrize("cell", HOSTILE_CELLS)
def test_11_hostile_cells_are_refused_row_by_row(cell: str) -> None:
    from datetime import date

    good = prices_csv(("LME-AL", "2026-11-19", "2510"))
    for row in (("LME-AL", "2026-11-18", cell), ("LME-AL", cell, "2510")):
        report = parse_price_csv(good + prices_csv(row).split("\n", 1)[1], "p.csv", date(2026, 11, 20))
        assert len(report.rows) == 1 and len(report.errors) == 1, (row, report)
    contracts = parse_contract_csv(contracts_csv(contract("A"), contract("B", maturity_date=cell)), "c.csv")
    assert len(contracts.rows) == 1 and len(contracts.errors) == 1


def test_11_a_duplicate_header_column_is_refused() -> None:
    from core.errors import NotAFileOfThisKind

    text = prices_csv(("LME-AL", "2026-11-19", "2510")).replace("price_type", "price", 1)
    with pytest.raises(NotAFileOfThisKind, match="more than once"):
        parse_price_csv(
            text.replace("unit,price", "unit,price_type,price"), "p.csv", __import__("datetime").date.today()
        )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_11_any_text_is_rows_or_one_error_never_a_traceback(text: str) -> None:
    from datetime import date

    from core.errors import NotAFileOfThisKind

    for parse in (lambda t: parse_price_csv(t, "p.csv", date(2026, 11, 20)), lambda t: parse_contract_csv(t, "c.csv")):
        try:
            parse(text)
            parse(prices_csv(("LME-AL", "2026-11-19", "2510")) + text)
        except NotAFileOfThisKind:
            pass


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "hedgeops"), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


FILES: dict[str, tuple[str, bytes]] = {
    "binary": ("contracts", bytes(range(256)) * 4),
    "nul": ("contracts", contracts_csv(contract("A"), contract("B\x00")).encode()),
    "header-only": ("contracts", contracts_csv().encode()),
    "fullwidth": ("contracts", contracts_csv(contract("A", quantity="１０")).encode()),
    "nested-items": ("hedged-items", b"[" * 100_000 + b"]" * 100_000),
    "nested-designations": ("designations", b'{"designations": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
    "invalid-json": ("hedged-items", b'{"hedged_items": [1, 2'),
    "wrong-types": ("hedged-items", b'{"hedged_items": [{"item_ref": 5, "amount": [1]}]}'),
    "expected-nul": ("expected-positions", b"login,signal_id\n1\x00,2\n"),
}


@pytest.mark.parametrize("name", sorted(FILES))
def test_11_malformed_files_through_the_cli_write_nothing(name: str, db_url: str, tmp_path: Path) -> None:
    kind, content = FILES[name]
    path = tmp_path / f"{name}.in"
    path.write_bytes(content)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEDGEOPS_")}
    env["HEDGEOPS_DATABASE_URL"] = db_url
    before = count_rows(db_url)
    done = run_cli(env, "load", kind, str(path))
    assert done.returncode == (0 if name == "header-only" else 2), done.stderr  # a header only: nothing to load
    assert "Traceback" not in done.stderr and (name == "header-only" or done.stderr.startswith(("hedgeops:", "  ")))
    assert count_rows(db_url) == before


def count_rows(url: str) -> tuple[Any, ...]:
    return tuple(rows(url, select(func.count()).select_from(t))[0][0] for t in (HedgeContract, AuditEvent))


def test_11_a_poison_file_is_quarantined_beside_good_files(db_url: str, tmp_path: Path, runtime: Any) -> None:
    """b.csv passes the first pass, then turns to garbage before it is written (a vendor
    still writing it): it is quarantined with its reason; a.csv and c.csv land, c.csv's
    row with a NUL byte refused alone."""
    import dataclasses

    from tasks.ports import configure
    from tasks.prices import fetch_settlement_prices
    from workers.adapters.drop_files import FileLimits
    from workers.adapters.vendor_csv import VendorCsvDropFolder

    SETTLED = FileLimits(settle_seconds=0)  # the test writes whole files, then fetches at once

    class SpoiledMidway(VendorCsvDropFolder):
        def fetch(self, as_of: Any, wanted: Any) -> Any:
            for batch in super().fetch(as_of, wanted):
                if str(batch.location).endswith("b.csv"):
                    Path(str(batch.location)).write_bytes(prices_csv().encode() + b"\xff\xfe" * 10 + b"\n")
                yield batch

    drop = tmp_path / "drop"
    drop.mkdir()
    configure(
        dataclasses.replace(
            runtime, price_sources=[SpoiledMidway("vendor_csv", drop, ["LME-*"], runtime.clock, limits=SETTLED)]
        )
    )
    (drop / "a.csv").write_text(prices_csv(("LME-AL", "2026-11-19", "2510")))
    (drop / "b.csv").write_text(prices_csv(("LME-NI", "2026-11-19", "16000")))
    (drop / "c.csv").write_text(prices_csv(("LME-CU", "2026-11-19", "8000"), ("LME-ZN", "2026-11-19", "30\x0000")))
    summary = fetch_settlement_prices.apply(kwargs={"as_of": "2026-11-20"}).get()
    landed = {s for (s,) in rows(db_url, select(SettlementPrice.symbol))}
    assert landed == {"LME-AL", "LME-CU"}
    assert summary["counts"]["exceptions"] == 2  # the quarantined file and the NUL row
    quarantined = list((drop / "quarantine").glob("*b.csv"))
    assert len(quarantined) == 1 and "UnicodeDecodeError" in Path(f"{quarantined[0]}.reason.txt").read_text()
    assert not list(drop.glob("*.csv"))
    events = rows(db_url, select(AuditEvent.entity_id).where(AuditEvent.event_type == "price_file_quarantined"))
    assert [e for (e,) in events] == ["b.csv"]
