"""`hedgeops verify`'s coverage check (issue 21, point 1): the jobs whose runs of a date it
judges, each by its own `JobCoverage` (tasks.coverage). A terminal's sync cycles are left
out: a terminal runs one every few seconds, each its own run, so a date holds thousands;
each cycle's end already writes its gaps (`not_synced`) and its status says so."""

from __future__ import annotations

from datetime import date

from core.verify import Finding
from db import ledger
from tasks.coverage import JobCoverage, RunCoverage, coverage_of_date
from tasks.hedging.coverage import EFFECTIVENESS_COVERAGE, POSTINGS_COVERAGE
from tasks.ports import ports
from tasks.valuation import MTM_COVERAGE

#: The jobs of a date whose latest ended run `verify` judges.
COVERED_JOBS: tuple[JobCoverage, ...] = (MTM_COVERAGE, EFFECTIVENESS_COVERAGE, POSTINGS_COVERAGE)


def coverage_findings(
    as_of: date, specs: tuple[JobCoverage, ...] = COVERED_JOBS
) -> tuple[list[RunCoverage], list[Finding]]:
    """`hedgeops verify`'s coverage check: each planned object not covered is a finding named
    by its job's gap reason (`not_valued`, ...) under its result's key; a plan whose
    fingerprint changed, `plan_altered`."""
    p = ports()
    runs = coverage_of_date(p, as_of, specs)
    by_job = {spec.job: spec for spec in specs}
    findings: list[Finding] = []
    with p.uow() as uow:
        for run in runs:
            spec, ended = by_job[run.job], ledger.get_run(uow.session, run.run_id)
            if not run.plan_intact:
                findings.append(
                    Finding(
                        f"run {run.run_id}", "plan_altered", "its chunks' members no longer match the recorded plan"
                    )
                )
            for kind, ids in run.missing.items():
                findings += [
                    Finding(
                        spec.key(kind, i, ended),
                        spec.reason,
                        f"planned by run {run.run_id} ({run.job}): neither a result nor an exception",
                    )
                    for i in ids
                ]
    return runs, findings
