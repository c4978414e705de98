"""A drop folder that trusts nothing (issue 21, point 3), through the prices job on the
embedded database: only regular files are read, only complete files, each bounded in size,
line length and reading time; a file that breaks a rule is quarantined with its reason and
the good file beside it lands."""

from __future__ import annotations

import dataclasses
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from db.models import AuditEvent, SettlementPrice
from tests.builders import prices_csv
from tests.cluster import BIN, rows
from workers.adapters.drop_files import FileLimits
from workers.adapters.vendor_csv import VendorCsvDropFolder

AS_OF, D1 = "2026-11-20", "2026-11-19"


def fetch(runtime: Any, drop: Path, limits: FileLimits) -> dict[str, Any]:
    from tasks.ports import configure
    from tasks.prices import fetch_settlement_prices

    source = VendorCsvDropFolder("vendor_csv", drop, ["LME-*"], runtime.clock, limits=limits)
    configure(dataclasses.replace(runtime, price_sources=[source]))
    summary: dict[str, Any] = fetch_settlement_prices.apply(kwargs={"as_of": AS_OF}).get()
    return summary


def landed(db_url: str) -> set[str]:
    return {s for (s,) in rows(db_url, select(SettlementPrice.symbol))}


def reasons(drop: Path) -> dict[str, str]:
    """Each quarantined file (without its time stamp) and its reason."""
    folder = drop / "quarantine"
    return {
        p.name.split("-", 1)[1].removesuffix(".reason.txt"): p.read_text().strip() for p in folder.glob("*.reason.txt")
    }


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "good.csv").write_text(prices_csv(("LME-AL", D1, "2510")))
    return folder


def test_links_fifos_and_devices_are_quarantined_unread(db_url: str, runtime: Any, drop: Path) -> None:
    (drop / "zero.csv").symlink_to("/dev/zero")
    os.mkfifo(drop / "pipe.csv")
    (drop / "folder.csv").mkdir()
    summary = fetch(runtime, drop, FileLimits(settle_seconds=0))  # returns: nothing hung on a read
    assert landed(db_url) == {"LME-AL"}
    assert reasons(drop) == {
        "folder.csv": "folder.csv: a folder, not a regular file: only regular files are read",
        "pipe.csv": "pipe.csv: a FIFO, not a regular file: only regular files are read",
        "zero.csv": "zero.csv: a symbolic link, not a regular file: only regular files are read",
    }
    assert summary["counts"]["exceptions"] == 3
    assert sorted(p.name for p in drop.iterdir()) == ["archive", "quarantine"]  # the link moved, not /dev/zero
    events = rows(db_url, select(AuditEvent.entity_id).where(AuditEvent.event_type == "price_file_quarantined"))
    assert sorted(e for (e,) in events) == ["folder.csv", "pipe.csv", "zero.csv"]


def test_a_file_being_written_waits_and_a_part_file_is_never_read(db_url: str, runtime: Any, drop: Path) -> None:
    """late.csv was written just now: unsettled for 60 s, it stays for the next fetch.
    next.csv.part is a file in progress by the rename convention. done.csv was renamed into
    place after its last write (its inode changed after its content): read at once."""
    (drop / "late.csv").write_text(prices_csv(("LME-NI", D1, "98")))  # cut mid-write: 9876.50 -> 98
    (drop / "next.csv.part").write_text(prices_csv(("LME-ZN", D1, "3000")))
    part = drop / "done.csv.part"
    part.write_text(prices_csv(("LME-CU", D1, "8000")))
    written = time.time() - 5
    os.utime(part, (written, written))  # the last write 5 s ago; the rename below is now
    part.rename(drop / "done.csv")
    os.utime(drop / "good.csv", (written - 100, written - 100))  # unwritten for 105 s
    summary = fetch(runtime, drop, FileLimits(settle_seconds=60))
    assert landed(db_url) == {"LME-AL", "LME-CU"}
    assert summary["counts"]["exceptions"] == 0
    assert sorted(p.name for p in drop.glob("*.csv*")) == ["late.csv", "next.csv.part"]
    # Completed: 9876.50, unwritten for 61 s. The next fetch reads it whole.
    (drop / "late.csv").write_text(prices_csv(("LME-NI", D1, "9876.50")))
    os.utime(drop / "late.csv", (time.time() - 61, time.time() - 61))
    fetch(runtime, drop, FileLimits(settle_seconds=60))
    assert [
        str(p) for (p,) in rows(db_url, select(SettlementPrice.price).where(SettlementPrice.symbol == "LME-NI"))
    ] == ["9876.500000"]


def test_a_file_over_its_size_limit_is_quarantined_unread(db_url: str, runtime: Any, drop: Path) -> None:
    big = drop / "big.csv"
    big.write_text(prices_csv(*[("LME-NI", D1, "16000")] * 40_000))  # about 1 MB
    size = big.stat().st_size
    summary = fetch(runtime, drop, FileLimits(settle_seconds=0, max_bytes=500_000))
    assert landed(db_url) == {"LME-AL"} and summary["counts"]["exceptions"] == 1
    assert reasons(drop) == {
        "big.csv": f"big.csv: {size} bytes, over the limit of 500000 (HEDGEOPS_PRICE_FILE_MAX_MB): not read"
    }


def test_a_file_past_its_read_deadline_is_quarantined(db_url: str, runtime: Any, drop: Path) -> None:
    rows_ = [("LME-NI", f"2026-{m:02d}-{d:02d}", "16000") for m in range(1, 11) for d in range(1, 29)]
    (drop / "slow.csv").write_text(prices_csv(*rows_ * 20))  # 5,600 rows: the check passes row 1,024 late
    summary = fetch(runtime, drop, FileLimits(settle_seconds=0, read_seconds=1e-6))
    assert summary["counts"]["exceptions"] == 1
    assert reasons(drop)["slow.csv"] == "slow.csv: not read within 1e-06 s (HEDGEOPS_PRICE_FILE_READ_SECONDS)"
    assert landed(db_url) == {"LME-AL"}


def test_a_one_line_file_of_nul_bytes_is_refused_in_bounded_memory(tmp_path: Path, embedded_cli: Any) -> None:
    """100 MB of NUL bytes without a newline, under the size limit: `load prices` reads at
    most one bounded line and refuses it; the process's peak RSS stays far below the file."""
    nul = tmp_path / "nul.csv"
    with nul.open("wb") as out:
        for _ in range(100):
            out.write(b"\0" * (1 << 20))
    env = {**os.environ, "HEDGEOPS_PRICE_DROP_DIR": str(tmp_path / "incoming")}
    code = (
        "import resource, subprocess, sys; "
        f"r = subprocess.run([{str(BIN / 'hedgeops')!r}, 'load', 'prices', {str(nul)!r}], "
        "capture_output=True, text=True); "
        "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); print(r.stderr.strip())"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    first, stderr = done.stdout.split("\n", 1)
    returncode, peak_kib = (int(x) for x in first.split())
    assert returncode == 2, stderr
    assert stderr.strip() == (
        "hedgeops: nul.csv: line 1 is longer than 65536 characters: not a price file; nothing loaded"
    )
    assert peak_kib / 1024 < 300, f"peak RSS {peak_kib / 1024:.0f} MiB"
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss > 0  # the figure is real on this platform
