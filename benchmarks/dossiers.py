"""Benchmark: `hedgeops report dossier --all` over the effectiveness book on PostgreSQL.

    python benchmarks/dossiers.py [--designations N] [--days D] [--jobs J] [--database-url URL] [--keep]

It seeds a throwaway database as effectiveness.py does (untimed, reported): N EURUSD forwards,
N receivables, N designations (a third each dollar offset, regression, critical terms) and D
weekday MTM snapshots of each leg; runs the effectiveness step for the last date (untimed) so
every relationship has a test; then times `hedgeops report dossier --all --as-of LAST --out DIR`
(the real command, in this process, `--jobs J` rendering processes) and reports the pages and
their bytes. The target: 10,000 dossiers in under 10 minutes.

The reference, measured in the same run: for each relationship, one bare matplotlib SVG
line chart of its instrument's MTM series (the cheapest chart a dossier draws), written to a
file, in the same number of processes. The ratio says what a whole dossier (three charts,
the tables, the queries) costs over drawing one chart.

Beside the wall times it prints the CPU seconds this process and its rendering processes
spent (getrusage, self and children; PostgreSQL's own work is not in it) and the load average:
on a shared machine the wall time says how much of the cores the run got, the CPU seconds what
the work costs.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Run as `python benchmarks/dossiers.py`: sys.path[0] is benchmarks/, so its siblings import bare.
from benchkit import ADMIN_URL, headline, judged, scratch_database  # noqa: E402
from effectiveness import FIRST_DAY, run_step, seed, weekdays  # noqa: E402

TARGET_SECONDS = 600
TARGET_N = 10_000


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--designations", type=int, default=TARGET_N, help="relationships (one dossier each)")
    parser.add_argument("--days", type=int, default=250, help="daily MTM snapshots per leg")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="rendering processes (--jobs)")
    parser.add_argument("--database-url", default=ADMIN_URL, help="PostgreSQL URL scratch databases are made through")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database and the pages")
    return parser.parse_args(argv)


def cpu_seconds() -> float:
    """User + system CPU of this process and of its children that have ended (the pools')."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def render_all(url: str, as_of: str, out: Path, jobs: int) -> float:
    from typer.testing import CliRunner

    from workers.cli import app

    os.environ["HEDGEOPS_DATABASE_URL"] = url
    os.environ["HEDGEOPS_LOG_LEVEL"] = "WARNING"
    started = time.perf_counter()
    result = CliRunner().invoke(
        app, ["report", "dossier", "--all", "--as-of", as_of, "--out", str(out), "--jobs", str(jobs)]
    )
    wall = time.perf_counter() - started
    if result.exit_code != 0:
        raise SystemExit(f"report dossier --all failed ({result.exit_code}): {result.output}")
    return wall


def _bare_charts(args: tuple[str, list[int], str]) -> int:
    """One bare SVG line chart per contract id: its MTM series, written to a file."""
    from matplotlib.figure import Figure
    from sqlalchemy import select

    from db.engine import session_factory
    from db.models import MtmSnapshot

    url, ids, folder = args
    with session_factory(url)() as s:
        rows = s.execute(
            select(MtmSnapshot.object_id, MtmSnapshot.as_of_date, MtmSnapshot.mtm_value)
            .where(MtmSnapshot.object_type == "hedge_contract", MtmSnapshot.object_id.in_(ids))
            .order_by(MtmSnapshot.object_id, MtmSnapshot.as_of_date)
        ).all()
    series: dict[int, tuple[list[object], list[float]]] = {}
    for oid, day, value in rows:
        xs, ys = series.setdefault(oid, ([], []))
        xs.append(day)
        ys.append(float(value))
    for oid, (xs, ys) in series.items():
        fig = Figure(figsize=(7, 2.8))
        fig.add_subplot().plot(xs, ys)
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg")
        Path(folder, f"{oid}.svg").write_text(buffer.getvalue(), encoding="utf-8")
    return len(series)


def time_reference(url: str, n: int, jobs: int, folder: Path) -> float:
    batches = [(url, list(range(i, min(i + 500, n + 1))), str(folder)) for i in range(1, n + 1, 500)]
    started = time.perf_counter()
    with ProcessPoolExecutor(jobs) as pool:
        drawn = sum(pool.map(_bare_charts, batches))
    wall = time.perf_counter() - started
    assert drawn == n, (drawn, n)
    return wall


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    days = weekdays(FIRST_DAY, args.days)
    from workers.celery_app import create_app
    from workers.settings import load_settings

    out = Path(tempfile.mkdtemp(prefix="hedgeops-dossiers-"))
    try:
        with scratch_database(args.database_url, args.keep) as url:
            seeding = seed(url, args.designations, days)
            create_app(load_settings(database_url=url, broker_url=None, result_backend=None, log_level="WARNING"))
            run_step(days[-1])
            load = os.getloadavg()[0]
            cpu = cpu_seconds()
            wall = render_all(url, days[-1].isoformat(), out / "pages", args.jobs)
            cpu = cpu_seconds() - cpu
            (out / "reference").mkdir()
            reference_cpu = cpu_seconds()
            reference = time_reference(url, args.designations, args.jobs, out / "reference")
            reference_cpu = cpu_seconds() - reference_cpu
            load_after = os.getloadavg()[0]
        pages = list((out / "pages").glob("dossier-*.html"))
        size = sum(p.stat().st_size for p in pages)
    finally:
        if not args.keep:
            shutil.rmtree(out, ignore_errors=True)
        else:
            print(f"kept the pages in {out}")
    n = args.designations
    print(
        f"dossier benchmark: {n} relationships x {args.days} daily snapshots per leg, PostgreSQL, {args.jobs} "
        f"rendering process(es); seeding took {seeding:.1f} s (not measured)"
    )
    print(f"{'':<28}{'wall s':>8}{'per s':>9}{'x reference':>13}{'CPU s':>9}{'CPU ms each':>13}")
    for name, w, c, ratio in (
        ("report dossier --all", wall, cpu, wall / reference),
        ("reference (one bare chart)", reference, reference_cpu, 1.0),
    ):
        print(f"{name:<28}{w:>8.1f}{n / w:>9.1f}{ratio:>13.1f}{c:>9.1f}{1000 * c / n:>13.1f}")
    print(
        f"load average (1 min) {load:.1f} before the dossiers, {load_after:.1f} after the reference, on "
        f"{os.cpu_count()} CPUs; the dossiers' CPU s / {args.jobs} process(es) = {cpu / args.jobs:.0f} s, "
        f"their wall time on cores of their own (PostgreSQL's work aside)"
    )
    print(
        f"pages: {len(pages)} dossiers + index, {size / 2**20:.0f} MiB "
        f"({size / max(len(pages), 1) / 1024:.0f} KiB each)"
    )
    headline("dossiers.all_over_reference", wall / reference)
    met = judged(f"{TARGET_N} dossiers under {TARGET_SECONDS} s", wall * TARGET_N / n < TARGET_SECONDS)
    return 0 if len(pages) == n and met else 1


if __name__ == "__main__":
    sys.exit(main())
