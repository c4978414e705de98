"""Benchmark: a large contracts file through `hedgeops load contracts` (issue 21, point 3).

    python benchmarks/contracts_file.py [--rows N] [--load] [--database-url URL]

The file: N good commodity-forward rows (2,000,000 by default: about 182 MB, the issue's
"200 MB contracts file"), then the first ref again, so the load reads every row, finds the
repeat by its digest, names it by a second look and refuses the file (exit 2). With
`--load` the repeat is left out and all N contracts are loaded (parts of 5,000 in one
transaction). One `hedgeops` process on a fresh SQLite database (or --database-url), its
peak RSS taken by wait4.

The reference, in the same run: a Python process that reads the same file with csv.reader
and does nothing with the rows (the floor of any streaming reader; the least of three when it
takes under a second: benchkit.floor_of). Printed: wall time and
peak RSS of each, and their ratios. Target: peak RSS under 300 MB (it was 5.9 GB for a
200 MB file before issue 21). Headline: the load's wall time over the reference's.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchkit import floor_of, headline, judged

from core.contracts import CONTRACT_HEADER

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
TARGET_MIB = 300


def write_file(path: Path, rows: int, repeat: bool) -> None:
    with path.open("w") as out:
        out.write(",".join(CONTRACT_HEADER) + "\n")
        for n in range(1, rows + 1):
            out.write(f"HC-{n:09d},commodity_forward,LME-AL,sell,125,mt,2612.00,USD,2026-10-01,2027-03-17,active\n")
        if repeat:
            out.write("HC-000000001,commodity_forward,LME-AL,sell,125,mt,2612.00,USD,2026-10-01,2027-03-17,active\n")


def measured(argv: list[str], env: dict[str, str]) -> tuple[int, float, float, str]:
    """(exit code, wall seconds, peak RSS MiB, stderr's last line) of one process."""
    start = time.perf_counter()
    with subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stderr is not None
        err = proc.stderr.read()
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    last = err.strip().splitlines()[-1] if err.strip() else ""
    return proc.returncode, wall, usage.ru_maxrss / 1024, last


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--load", action="store_true", help="no repeated ref: load every row")
    parser.add_argument("--database-url", help="a database to load into (default: a fresh SQLite file)")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hedgeops-contracts-bench-") as tmp:
        folder = Path(tmp)
        path = folder / "contracts.csv"
        write_file(path, opts.rows, repeat=not opts.load)
        size_mb = path.stat().st_size / 1e6
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEDGEOPS_")}
        env.update(
            HEDGEOPS_DATABASE_URL=opts.database_url or f"sqlite:///{folder / 'bench.db'}",
            HEDGEOPS_PRICE_DROP_DIR=str(folder / "incoming"),
            HEDGEOPS_LOG_LEVEL="WARNING",
        )
        code, _wall, _rss, last = measured([str(BIN / "hedgeops"), "db", "upgrade"], env)
        if code != 0:
            print(f"db upgrade failed: {last}", file=sys.stderr)
            return 1
        reference = (
            "import csv, sys\n"
            "with open(sys.argv[1], encoding='utf-8-sig', newline='') as f:\n"
            "    n = sum(1 for _ in csv.reader(f))\n"
        )
        references: list[tuple[int, float, float, str]] = []

        def reference_once() -> float:
            references.append(measured([sys.executable, "-c", reference, str(path)], env))
            return references[-1][1]

        ref_wall = floor_of(reference_once)  # the least of three when under a second (the quick size)
        ref_rss = references[0][2]
        code, wall, rss, last = measured([str(BIN / "hedgeops"), "load", "contracts", str(path)], env)
    expected = 0 if opts.load else 2
    print(f"file: {opts.rows:,} rows, {size_mb:.0f} MB ({'loaded' if opts.load else 'one repeated ref: refused'})")
    print(f"{'':<28} {'wall s':>8} {'peak RSS MiB':>13}")
    print(f"{'hedgeops load contracts':<28} {wall:>8.1f} {rss:>13.0f}")
    print(f"{'reference: csv.reader only':<28} {ref_wall:>8.1f} {ref_rss:>13.0f}")
    print(f"ratio: wall {wall / ref_wall:.1f}x, peak RSS {rss / ref_rss:.1f}x; {opts.rows / wall:,.0f} rows/s")
    print(f"exit {code}: {last}")
    if code != expected:
        print(f"expected exit {expected}", file=sys.stderr)
        return 1
    headline("contracts_file.wall_over_csv_reader", wall / ref_wall)
    return 0 if judged(f"peak RSS < {TARGET_MIB} MiB", rss < TARGET_MIB) else 1


if __name__ == "__main__":
    sys.exit(main())
