"""What the MTM benchmark measured and how it prints it: each run beside the SQL reference
(the ratio the targets of issue 13 are about) and the COPY floor, the CPU per contract,
the peak RSS of every worker process."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from benchkit import headline
from mtm_reference import SqlReference


@dataclass(frozen=True, slots=True)
class RunFigures:
    """One timed MTM run: wall seconds from the trigger to the end of its ledger row, and
    the CPU seconds the worker's processes and the database's backends spent meanwhile."""

    label: str
    wall: float
    summary: dict[str, Any]
    chunks: int
    worker_cpu: float
    database_cpu: float
    machine_cpu: float

    @property
    def other_cpu(self) -> float:
        """CPU the rest of the machine spent meanwhile (this process, other jobs): noise."""
        return max(0.0, self.machine_cpu - self.worker_cpu - self.database_cpu)

    @property
    def processed(self) -> int:
        return int(self.summary["counts"]["processed"])

    @property
    def per_second(self) -> float:
        """Contracts processed (snapshots and exceptions) per second of wall time."""
        return self.processed / self.wall

    @property
    def worker_us_per_contract(self) -> float:
        return self.worker_cpu / max(1, self.processed) * 1e6


@dataclass(frozen=True, slots=True)
class Pipeline:
    """What the pipeline's part of the benchmark found."""

    seeding: float
    runs: list[RunFigures]
    peak_rss: list[list[float]]  # per node: main process, then pool processes
    snapshots: int
    sql: SqlReference


ROW = "{:<30}{:>8}{:>9}{:>8}{:>8}{:>10}{:>10}{:>10}{:>8}  {}"


def _run_line(run: RunFigures, sql: float, floor: float | None) -> str:
    counts = ", ".join(f"{k} {v}" for k, v in run.summary["counts"].items())
    return ROW.format(
        run.label,
        f"{run.wall:.2f}",
        f"{run.per_second:.0f}",
        f"{run.wall / sql:.2f}",
        f"{run.wall / floor:.1f}" if floor else "-",
        f"{run.worker_cpu:.1f}",
        f"{run.worker_us_per_contract:.0f}",
        f"{run.database_cpu:.1f}",
        f"{run.other_cpu:.1f}",
        f"{run.summary['status']}: {counts}",
    )


def print_report(header: str, pipeline: Pipeline, floors: dict[str, float]) -> None:
    """The table: both runs beside the SQL reference and the floors, then memory."""
    runs, sql = pipeline.runs, pipeline.sql
    print(
        f"{header} ({runs[0].chunks} chunks), {os.cpu_count()} CPUs; "
        f"seeding took {pipeline.seeding:.2f} s (not measured)"
    )
    print(
        ROW.format(
            "", "wall s", "per s", "x SQL", "x COPY", "CPU wrk s", "us/contr", "CPU pg s", "CPU oth", "status: counts"
        )
    )
    floor = floors.get("COPY")
    for run, reference in zip(runs, (sql.first, sql.rerun), strict=True):
        print(_run_line(run, reference, floor))
    for label, seconds in (("SQL reference (first)", sql.first), ("SQL reference (rerun)", sql.rerun)):
        cpu = sql.first_cpu if label.endswith("(first)") else sql.rerun_cpu
        print(
            ROW.format(
                label,
                f"{seconds:.2f}",
                f"{sql.rows / seconds:.0f}",
                "1.00",
                f"{seconds / floor:.1f}" if floor else "-",
                "",
                "",
                f"{cpu:.1f}",
                "",
                f"one INSERT .. SELECT .. ON CONFLICT DO NOTHING, {sql.rows} rows, "
                f"{sql.same_hash} hashes equal to the pipeline's",
            )
        )
    for name, seconds in floors.items():
        print(
            ROW.format(
                f"floor: {name}",
                f"{seconds:.2f}",
                f"{pipeline.snapshots / seconds:.0f}",
                "",
                f"{seconds / floor:.1f}" if floor else "-",
                "",
                "",
                "",
                "",
                f"the {pipeline.snapshots} snapshot rows written above, again, into a fresh database",
            )
        )
    print(
        f"ratios: run / SQL reference {runs[0].wall / sql.first:.2f} (target <= 1.5), "
        f"rerun / SQL rerun {runs[1].wall / sql.rerun:.2f} (target <= 2.0)"
    )
    headline(f"mtm_{pipeline.snapshots}.run_over_sql", runs[0].wall / sql.first)
    headline(f"mtm_{pipeline.snapshots}.rerun_over_sql", runs[1].wall / sql.rerun)
    first_cpu, rerun_cpu = (r.worker_cpu + r.database_cpu for r in runs)
    if sql.first_cpu and sql.rerun_cpu:
        print(
            f"CPU ratios (load-independent): run (worker + PostgreSQL) / SQL reference's backend "
            f"{first_cpu / sql.first_cpu:.2f}, rerun {rerun_cpu / sql.rerun_cpu:.2f}"
        )
        headline(f"mtm_{pipeline.snapshots}.run_cpu_over_sql", first_cpu / sql.first_cpu)
        headline(f"mtm_{pipeline.snapshots}.rerun_cpu_over_sql", rerun_cpu / sql.rerun_cpu)
    for no, rss in enumerate(pipeline.peak_rss, start=1):
        pool = ", ".join(f"{mib:.0f}" for mib in rss[1:])
        print(f"node {no} peak RSS (VmHWM): main {rss[0]:.0f} MiB, pool processes {pool} MiB")
