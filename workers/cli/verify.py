"""`hedgeops verify --as-of D`: recompute a date's snapshots and check its runs' coverage;
non-zero when anything is off."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from workers.cli.common import EXIT_FAILED, out, parse_day, settings_or_exit, start

if TYPE_CHECKING:
    from tasks.coverage import RunCoverage


def verify(
    as_of: Annotated[str, typer.Option("--as-of", help="the as-of date D, YYYY-MM-DD")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Recompute every snapshot of D (commodity, FX forward and hedged item) from the stored
    contract or item, the price rows it used and its run's recorded curves and method, check
    its payload_sha256, and list mismatches and snapshots whose price was restated since; then
    recompute D's hedge accounting entries from the stored snapshots and list every difference;
    and check that the latest MTM, effectiveness and postings runs of D covered their plans:
    every contract and hedged item planned has a snapshot or an exception (`not_valued`
    otherwise), every relationship a test (`not_assessed`) and an entry or an exception
    (`not_posted`)."""
    from tasks.coverage_check import coverage_findings
    from tasks.verify import verify_date

    day = parse_day(as_of)
    start(settings_or_exit())
    result = verify_date(day)
    covered, gaps = coverage_findings(day)  # each run's plan against its results (issue 21)
    findings = [{"snapshot": f.snapshot_key, "problem": f.problem, "detail": f.detail} for f in result.findings + gaps]
    if as_json:
        print(
            json.dumps(
                {
                    "as_of": day.isoformat(),
                    "snapshots": result.snapshots,
                    "checked": result.checked,
                    "entries": result.entries,
                    "ok": not findings,
                    "coverage": [{"batch_run_id": c.run_id, "job": c.job, "planned": c.planned} for c in covered],
                    "findings": findings,
                }
            )
        )
    else:
        for c in covered:
            out.print(f"{day}: {c.job} run {c.run_id}: {_planned(c)} planned, {_missing(c)} {c.reason}")
        out.print(
            f"{day}: {result.checked} of {result.snapshots} snapshots recomputed, {result.entries} journal entries "
            f"recomputed, {len(findings)} finding(s)"
        )
        if findings:
            table = Table("snapshot or entry", "problem", "detail")
            for f in findings:
                table.add_row(f["snapshot"], f["problem"], f["detail"])
            out.print(table)
    if findings:
        raise typer.Exit(EXIT_FAILED)


def _planned(covered: RunCoverage) -> int:
    return sum(covered.planned.values())


def _missing(covered: RunCoverage) -> int:
    return sum(map(len, covered.missing.values()))
