"""A price file of any size streams: checked whole first (nothing written if it is not a
price file), then written in bounded parts; bad rows are reported with file and line and
good rows land, as when the file is read whole. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from core.prices import parse_price_csv
from core.sources import keep_known_symbols
from db.models import SettlementPrice
from tasks.loading import load_price_batch
from workers.adapters import vendor_csv
from workers.adapters.vendor_csv import read_price_file

NOW = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)
HEADER = "symbol,price_date,price,currency,unit,price_type\n"


def line(symbol: str, day: str, price: str) -> str:
    return f"{symbol},{day},{price},USD,mt,cash_settlement\n"


def big_file(path: Path, good: int) -> str:
    """`good` distinct good rows, and among them every kind of bad row, an exact repeat
    and a duplicate with another price far apart (they fall into different parts)."""
    rows = [
        line(f"LME-S{i % 97}", f"2026-{1 + i // 97 % 10:02d}-{1 + i // 970 % 28:02d}", f"{100 + i}.5")
        for i in range(good)
    ]
    rows.insert(5, line("LME-AL", "2026-11-19", "-3"))  # negative
    rows.insert(9, line("LME-AL", "2026-11-25", "2500"))  # future
    rows.insert(12, line("LME-AL", "2026-11-19", "1,5"))  # not a plain number
    rows.insert(15, "LME-AL,2026-11-19\n")  # too few fields
    rows.insert(20, line("OTHER-X", "2026-11-19", "7"))  # unknown symbol
    rows.insert(30, line("LME-DUP", "2026-11-18", "10"))
    rows.append(line("LME-DUP", "2026-11-18", "11"))  # same key, other price: both refused
    rows.insert(40, rows[41])  # an exact repeat: kept once
    text = HEADER + "".join(rows)
    path.write_text(text)
    return text


def stored(runtime: Any) -> int:
    with runtime.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(SettlementPrice)) or 0


class TestStreaming:
    def test_parts_are_bounded_and_the_outcome_is_the_whole_file_s(
        self, runtime: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(vendor_csv, "PART_ROWS", 500)
        text = big_file(tmp_path / "big.csv", 2500)
        batch = read_price_file(tmp_path / "big.csv", "vendor_csv", NOW, ["LME-*"])
        assert batch.parts is not None and batch.report.rows == []
        assert max(len(part.rows) for part in batch.parts()) <= 500
        whole = keep_known_symbols(parse_price_csv(text, "big.csv", NOW.date()), ["LME-*"])
        before = stored(runtime)
        counts = load_price_batch(batch)
        assert (before, stored(runtime)) == (0, len(whole.rows)) == (0, 2500)
        assert [str(e) for e in batch.report.errors] == [str(e) for e in whole.errors]
        assert (counts.created, counts.exceptions) == (2500, 7)
        assert {e.line for e in batch.report.errors} >= {7, text.count("\n")}  # the first bad row and the last line

    def test_a_file_broken_far_down_writes_nothing(self, runtime: Any, tmp_path: Path) -> None:
        path = tmp_path / "broken.csv"
        big_file(path, 3000)
        path.write_bytes(path.read_bytes() + b"LME-AL,2026-11-19,\xff\xfe,USD,mt,cash_settlement\n")
        batch = read_price_file(path, "vendor_csv", NOW, ["LME-*"])
        assert batch.rejected and "not UTF-8" in batch.rejected
        counts = load_price_batch(batch)
        assert (counts.exceptions, stored(runtime)) == (1, 0)

    def test_not_a_price_file_writes_nothing(self, runtime: Any, tmp_path: Path) -> None:
        path = tmp_path / "contracts.csv"
        path.write_text("contract_ref,side\nC1,buy\n")
        batch = read_price_file(path, "vendor_csv", NOW, ["LME-*"])
        assert batch.rejected and "not a prices file" in batch.rejected
        load_price_batch(batch)
        assert stored(runtime) == 0
