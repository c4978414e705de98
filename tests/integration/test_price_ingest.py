"""The prices job with the real drop-folder adapter: archiving, never reading a file twice,
restatements, freshness of D-1, and row-by-row validation."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from db.models import AuditEvent, IdempotencyConflict, PriceFile, SettlementPrice
from tasks.loading import load_contracts_csv
from tasks.prices import fetch_settlement_prices
from tests.builders import contract, contracts_csv, prices_csv
from tests.fakes import Clock
from workers.adapters.drop_files import FileLimits
from workers.adapters.vendor_csv import VendorCsvDropFolder

HEADER = "symbol,price_date,price,currency,unit,price_type\n"


@pytest.fixture
def folder(runtime: Any, tmp_path: Path, clock: Clock) -> Path:
    drop = tmp_path / "drop"
    drop.mkdir()
    object.__setattr__(
        runtime,
        "price_sources",
        [VendorCsvDropFolder("vendor_csv", drop, ["LME-*"], clock, limits=FileLimits(settle_seconds=0))],
    )
    return drop


def prices_job(as_of: str = "2026-11-20") -> dict[str, Any]:
    return dict(fetch_settlement_prices.apply(kwargs={"as_of": as_of}).get())


def events(runtime: Any, kind: str) -> list[dict[str, Any]]:
    with runtime.uow() as uow:
        return list(uow.session.scalars(select(AuditEvent.details).where(AuditEvent.event_type == kind)))


class TestDropFolder:
    def test_a_processed_file_is_archived_and_never_read_twice(self, runtime: Any, folder: Path) -> None:
        text = prices_csv(("LME-AL", "2026-11-19", "2563.50"))
        (folder / "a.csv").write_text(text)
        first = prices_job()
        assert not (folder / "a.csv").exists()
        [archived] = (folder / "archive").iterdir()
        assert archived.name.endswith("-a.csv") and archived.read_text() == text
        (folder / "a-again.csv").write_text(text)  # the same bytes under another name
        second = prices_job()
        assert (first["counts"]["created"], second["counts"]["processed"]) == (1, 0)
        assert len(list((folder / "archive").iterdir())) == 2
        with runtime.uow() as uow:
            files = uow.session.execute(select(PriceFile.file_name, PriceFile.status, PriceFile.created)).all()
        assert files == [("a.csv", "ingested", 1)]

    def test_provenance_is_kept_on_every_price(self, runtime: Any, folder: Path, clock: Clock) -> None:
        path = folder / "lme.csv"
        path.write_text(prices_csv(("LME-AL", "2026-11-19", "2563.50")))
        os.utime(path, (1_763_571_600, 1_763_571_600))  # 2025-11-19 17:00:00 UTC
        prices_job()
        with runtime.uow() as uow:
            p = uow.session.scalars(select(SettlementPrice)).one()
            assert (p.source, p.confidence, p.file_name, p.source_line) == ("vendor_csv", "FIRM", "lme.csv", 2)
            assert p.published_at == datetime(2025, 11, 19, 17, 0, tzinfo=UTC)
            assert p.fetched_at == clock.now and len(p.file_sha256 or "") == 64

    def test_a_restated_price_is_a_conflict_with_both_values_audited(self, runtime: Any, folder: Path) -> None:
        (folder / "a.csv").write_text(prices_csv(("LME-AL", "2026-11-19", "2563.50")))
        prices_job()
        (folder / "b.csv").write_text(prices_csv(("LME-AL", "2026-11-19", "2571.25")))
        summary = prices_job()
        assert (summary["status"], summary["counts"]["conflicts"]) == ("completed_with_conflicts", 1)
        [restated] = events(runtime, "price_restated")
        assert (restated["stored"]["price"], restated["refused"]["price"], restated["file"]) == (
            "2563.5",
            "2571.25",
            "b.csv",
        )
        with runtime.uow() as uow:
            assert uow.session.scalar(select(SettlementPrice.price)) == Decimal("2563.500000")
            assert (
                uow.session.scalar(select(IdempotencyConflict.idempotency_key)) == "PRICE:LME-AL:2026-11-19:vendor_csv"
            )


class TestFreshness:
    def test_each_missing_d1_price_is_an_event_and_counted(self, runtime: Any, folder: Path) -> None:
        load_contracts_csv(
            contracts_csv(
                contract("A", underlying="LME-AL"),
                contract("B", underlying="LME-CU"),
                contract("C", underlying="LME-NI", status="settled"),
            ),
            "c.csv",
        )
        # Tue 5 May 2026: LME follows England and Wales, so D-1 is Fri 1 May (Mon 4 May is a bank
        # holiday, not a gap). LME-AL has its price; LME-CU does not; LME-NI is not needed.
        (folder / "p.csv").write_text(prices_csv(("LME-AL", "2026-05-01", "2400")))
        summary = prices_job("2026-05-05")
        assert summary["price_missing"] == 1
        assert events(runtime, "price_missing") == [{"symbol": "LME-CU", "price_date": "2026-05-01"}]


class TestValidation:
    @pytest.mark.parametrize(
        "line, reason",
        [
            ('LME-AL,2026-11-19,"2,563.50",USD,mt,cash_settlement', "price: not a plain decimal number"),
            ("LME-AL,2026-11-19,2563.50,XYZ,mt,cash_settlement", "currency"),
            ("COMEX-GC,2026-11-19,2650.10,USD,oz,cash_settlement", "symbol: unknown symbol COMEX-GC"),
            ("LME-AL,2026-11-21,2563.50,USD,mt,cash_settlement", "price_date: 2026-11-21 is in the future"),
        ],
    )
    def test_a_bad_row_is_reported_and_the_good_ones_land(
        self, runtime: Any, folder: Path, line: str, reason: str
    ) -> None:
        good = "LME-CU,2026-11-19,10012.25,USD,mt,cash_settlement"
        (folder / "p.csv").write_text(HEADER + good + "\n" + line + "\n")
        summary = prices_job()
        assert (summary["counts"]["created"], summary["counts"]["exceptions"]) == (1, 1)
        [ingested] = events(runtime, "price_file_ingested")
        [rejected] = ingested["rejected_rows"]
        assert rejected.startswith("p.csv:3: ") and reason in rejected

    def test_a_bom_and_crlf_line_ends_are_read(self, runtime: Any, folder: Path) -> None:
        text = "\ufeff" + HEADER.replace("\n", "\r\n") + "LME-AL,2026-11-19,2563.50,USD,mt,cash_settlement\r\n"
        (folder / "p.csv").write_bytes(text.encode("utf-8"))
        assert prices_job()["counts"]["created"] == 1

    def test_a_wrong_encoding_writes_nothing_of_the_file(self, runtime: Any, folder: Path) -> None:
        text = HEADER + "LME-AL,2026-11-19,2563.50,USD,mt,cash_settlement # prix réglé\n"
        (folder / "p.csv").write_bytes(text.encode("latin-1"))
        summary = prices_job()
        assert (summary["counts"]["created"], summary["counts"]["exceptions"]) == (0, 1)
        [event] = events(runtime, "price_file_rejected")
        assert "not UTF-8" in event["reason"]
        assert (folder / "archive").is_dir()  # refused once, archived: it is not read again
