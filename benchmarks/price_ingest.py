"""Benchmark: a large vendor price file through `hedgeops load prices`, SQLite and PostgreSQL.

    python benchmarks/price_ingest.py [--rows N] [--database sqlite,postgresql] [--database-url URL] [--keep]

It writes a vendor CSV of N rows (default 1,000,000, about 50 MB: 1,000 LME-S* symbols x
N/1,000 days, and ten bad rows of every kind spread through it), then for each database
runs the real command in a process of its own, `hedgeops load prices FILE` (embedded: a
migrated SQLite file; or a scratch PostgreSQL database), and reads the peak RSS of that
process (its rusage) and its wall time; then it checks the database: every good row
stored, no bad one. The reference, in the same run (issue 23): the rows the PostgreSQL load
stored, COPYed into an unindexed table of the same columns (the floor of getting them into
the database); the csv reader's pass over the file is printed beside it. Targets (issue
23): at most 20 s and 300 MB peak RSS on either database.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

from benchkit import ADMIN_URL, best_of, headline, judged, scratch_database, worker_env
from sqlalchemy import func, select

from db import migrate
from db.engine import engine_for
from db.models import SettlementPrice

HEADER = "symbol,price_date,price,currency,unit,price_type\n"
BAD = [
    "{s},{d},-1,USD,mt,cash_settlement\n",
    "{s},2099-01-01,5,USD,mt,cash_settlement\n",
    "{s},{d},1e3,USD,mt,cash_settlement\n",
    "{s},{d}\n",
    "OTHER-{s},{d},5,USD,mt,cash_settlement\n",
]
HEDGEOPS = Path(sys.executable).with_name("hedgeops")
LIMIT_MB = 300
LIMIT_S = 20.0


def write_file(path: Path, rows: int) -> int:
    """The price file; returns the number of good rows in it."""
    days = max(1, rows // 1000)
    first = date(2026, 11, 19) - timedelta(days=days)
    bad_every = max(1, rows // (10 * len(BAD)))
    good = 0
    with path.open("w", encoding="utf-8") as out:
        out.write(HEADER)
        for i in range(rows):
            symbol, day = f"LME-S{i % 1000:03d}", (first + timedelta(days=i // 1000)).isoformat()
            if i % bad_every == bad_every - 1:
                out.write(BAD[(i // bad_every) % len(BAD)].format(s=symbol, d=day))
                continue
            out.write(f"{symbol},{day},{1000 + (i % 7919) / 8:.3f},USD,mt,cash_settlement\n")
            good += 1
    return good


def read_floor(path: Path) -> float:
    """Seconds of one csv.reader pass over the file: the reference."""
    import csv

    started = time.perf_counter()
    with path.open(encoding="utf-8", newline="") as f:
        for _ in csv.reader(f):
            pass
    return time.perf_counter() - started


def run_load(path: Path, url: str) -> tuple[float, float, str]:
    """`hedgeops load prices FILE` in a wrapper process of its own: (wall s, peak RSS MiB
    of the command, its last line of output)."""
    env = worker_env({"database_url": url, "log_level": "WARNING"})
    probe = (
        "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
        "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
        "print((r.stdout.strip().splitlines() or [''])[-1])"
    )
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", probe, str(HEDGEOPS), "load", "prices", str(path)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - started
    head, _, last = done.stdout.partition("\n")
    _code, maxrss_kib = head.split()
    return wall, int(maxrss_kib) / 1024, last.strip()


def copy_reference(url: str) -> float:
    """Seconds to COPY the stored prices (every column but the id, read out first, not timed)
    into an unindexed table of the same columns, in one transaction: the reference (the least
    of three, benchkit.best_of)."""
    import psycopg
    from sqlalchemy.engine import make_url

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as conn:
        columns = [
            c
            for (c,) in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'settlement_prices' "
                "AND column_name <> 'id' ORDER BY ordinal_position"
            )
        ]
        names = ", ".join(columns)
        data = bytearray()
        with conn.cursor().copy(f"COPY (SELECT {names} FROM settlement_prices) TO STDOUT") as out:
            for block in out:
                data += block
        conn.execute(
            f"CREATE UNLOGGED TABLE IF NOT EXISTS copy_reference AS SELECT {names} FROM settlement_prices WITH NO DATA"
        )

        def once() -> float:
            conn.execute("TRUNCATE copy_reference")
            conn.commit()
            started = time.perf_counter()
            with conn.cursor().copy(f"COPY copy_reference ({names}) FROM STDIN") as into:
                for start in range(0, len(data), 1 << 20):
                    into.write(bytes(data[start : start + (1 << 20)]))
            conn.commit()
            return time.perf_counter() - started

        seconds = best_of(once)
        conn.execute("DROP TABLE copy_reference")
        conn.commit()
    return seconds


def stored(url: str) -> int:
    with engine_for(url).connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(SettlementPrice)) or 0)


def measure(kind: str, path: Path, opts: argparse.Namespace, good: int) -> dict[str, object]:
    if kind == "sqlite":
        url = f"sqlite:///{path.with_suffix('.db')}"
        migrate.upgrade(url)
        wall, rss, line = run_load(path, url)
        return {"database": kind, "wall": wall, "rss": rss, "stored": stored(url), "good": good, "output": line}
    with scratch_database(opts.database_url, opts.keep, "price ingest") as url:
        wall, rss, line = run_load(path, url)
        result = {"database": kind, "wall": wall, "rss": rss, "stored": stored(url), "good": good, "output": line}
        return {**result, "copy": copy_reference(url)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database", default="sqlite,postgresql")
    parser.add_argument("--database-url", default=ADMIN_URL)
    parser.add_argument("--keep", action="store_true")
    opts = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hedgeops-bench-prices-") as folder:
        path = Path(folder) / "prices.csv"
        good = write_file(path, opts.rows)
        floor = read_floor(path)
        size = os.path.getsize(path) / 1e6
        print(f"price ingest: {opts.rows} rows ({good} good), {size:.1f} MB; csv.reader pass over it {floor:.2f} s")
        results = [measure(kind, path, opts, good) for kind in opts.database.split(",") if kind]
    copies = [float(r["copy"]) for r in results if "copy" in r]  # type: ignore[arg-type]
    if not copies:
        print("no PostgreSQL run: no COPY reference; the wall times alone")
    reference = copies[0] if copies else None
    if reference is not None:
        print(f"reference: the {good} stored rows COPYed into an unindexed table: {reference:.2f} s")
    print(f"{'database':<12}{'wall s':>9}{'rows/s':>10}{'x COPY':>9}{'peak RSS MiB':>14}{'stored':>10}  output")
    ok = True
    for r in results:
        wall, rss = float(r["wall"]), float(r["rss"])  # type: ignore[arg-type]
        ok = ok and r["stored"] == good
        ratio = wall / reference if reference else float("nan")
        print(
            f"{r['database']:<12}{wall:>9.2f}{opts.rows / wall:>10.0f}{ratio:>9.1f}{rss:>14.0f}"
            f"{r['stored']:>10}  {r['output']}"
        )
        if reference:
            headline(f"price_ingest.{r['database']}_over_copy", ratio)
        met = judged(
            f"{r['database']}: {LIMIT_S:.0f} s and {LIMIT_MB} MB ({wall:.1f} s, {rss:.0f} MiB)",
            wall <= LIMIT_S and rss * 1.048576 <= LIMIT_MB,
        )
        ok = ok and met
    print(json.dumps({"target_s": LIMIT_S, "target_rss_mb": LIMIT_MB, "met": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
