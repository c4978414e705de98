"""`hedgeops verify` of a large date recomputes in processes, each reading a range of
snapshot ids through its own connection (issue 23 point 5): the same report, findings in
the same order, as recomputing in the command's own process. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from db import verify as db_verify
from tasks import verify
from tests.builders import contract, contracts_csv, prices_csv
from workers.cli import app


def report(cli: CliRunner) -> dict[str, object]:
    result = cli.invoke(app, ["verify", "--as-of", "2026-11-20", "--json"])
    assert result.exit_code == 1, result.output  # the tampered snapshots are found
    return dict(json.loads(result.stdout))


#: Behind the write path: two hashes no longer match their payload, a contract's entry
#: price and another's currency changed since its snapshot, a snapshot deleted.
TAMPERING = (
    "UPDATE mtm_snapshots SET payload_sha256 = 'x' WHERE object_id IN (2, 11)",
    "UPDATE hedge_contracts SET entry_price = 1 WHERE id = 5",
    "UPDATE hedge_contracts SET currency = 'EUR' WHERE id = 7",
    "DELETE FROM mtm_snapshots WHERE object_id = 9",
)


def test_processes_report_what_one_process_reports(
    embedded_cli: CliRunner, tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = tmp_path / "c.csv"
    book.write_text(contracts_csv(*(contract(f"C{i}", entry_price=str(2400 + i)) for i in range(12))))
    assert embedded_cli.invoke(app, ["load", "contracts", str(book)]).exit_code == 0
    (tmp_path / "incoming" / "p.csv").write_text(prices_csv(("LME-AL", "2026-11-19", "2563.50")))
    assert embedded_cli.invoke(app, ["run", "nightly", "--in-process", "--as-of", "2026-11-20"]).exit_code == 0
    (tmp_path / "incoming" / "restated.csv").write_text(prices_csv(("LME-AL", "2026-11-19", "2570.00")))
    assert embedded_cli.invoke(app, ["run", "prices", "--in-process", "--as-of", "2026-11-20"]).exit_code == 3
    engine = create_engine(db_url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE mtm_snapshots DISABLE TRIGGER mtm_snapshots_append_only"))
        for statement in TAMPERING:
            conn.execute(text(statement))
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE mtm_snapshots ENABLE TRIGGER mtm_snapshots_append_only"))
    engine.dispose()

    # batches and fetches smaller than a range: price rows are read while a range streams
    monkeypatch.setattr(verify, "BATCH", 5)
    monkeypatch.setattr(db_verify, "READ_BATCH", 4)
    here = report(embedded_cli)
    monkeypatch.setattr(verify, "PARALLEL_FROM", 1)
    monkeypatch.setattr(verify.os, "cpu_count", lambda: 2)  # two processes, eight id ranges
    apart = report(embedded_cli)

    assert apart == here
    found = [(f["snapshot"].split(":")[2], f["problem"]) for f in here["findings"]]  # type: ignore[attr-defined,union-attr]
    details = {f["problem"]: f["detail"] for f in here["findings"]}  # type: ignore[attr-defined,union-attr]
    assert here["checked"] == 11
    assert (details["recomputed_differs"], details["not_valued_now"]) == (
        "fields: entry_price, mtm_value",
        "recomputing gives an exception: currency_mismatch",
    )
    assert found == [
        ("2", "payload_tampered"),
        ("5", "recomputed_differs"),
        ("7", "not_valued_now"),
        ("11", "payload_tampered"),
        *[(str(i), "price_restated") for i in range(1, 13) if i != 9],
        ("9", "not_valued"),
    ]


@pytest.mark.parametrize(
    ("bounds", "parts", "ranges"),
    [
        ((1, 12), 8, [(1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12)]),
        ((5, 5), 4, [(5, 5)]),
        ((1, 10), 3, [(1, 4), (5, 8), (9, 10)]),
    ],
)
def test_id_ranges_cover_the_bounds_once(bounds: tuple[int, int], parts: int, ranges: list[tuple[int, int]]) -> None:
    assert verify.id_ranges(bounds, parts) == ranges
