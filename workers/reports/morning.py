"""`hedgeops report morning --as-of D --out DIR` (and the nightly, when HEDGEOPS_REPORTS_DIR
is set): one page of the night for a treasury desk. Each dataset's freshness against its
deadline and the nightly's steps; `check nightly`; what needs a person, each with the
command that shows it; MTM by underlying and by counterparty with the change from the
previous date; counterparty limit use; effectiveness outcomes and de-designation flags; the
drawdown guard's states and the night's alerts."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from core.monitoring import check_nightly
from core.morning import DATASETS, Attention, Deadline, freshness, group_mtm
from core.run_details import RunRecord
from core.values import RunStatus
from workers.reports.html import render, write_page
from workers.settings import Settings


def file_name(day: date) -> str:
    return f"morning-{day.isoformat()}.html"


def _freshness(session: Session, settings: Settings, day: date, now: datetime) -> list[Any]:
    from db import ledger

    rows = []
    for dataset, job in DATASETS.items():
        run = ledger.latest_run(session, job, day)
        facts = None if run is None else (run.id, RunStatus(run.status), run.finished_at)
        deadline = Deadline.parse(settings.report_deadlines[job]).of(day)
        rows.append(freshness(dataset, job, deadline, facts, now))
    return rows


def _attention(session: Session, day: date, facts: Any, exceptions: list[dict[str, Any]]) -> list[Attention]:
    """Missing prices, failed sources, MTM exceptions, conflicts, blocked postings."""
    from db.reports import blocked_postings, conflicts_of, runs_of_date

    items: list[Attention] = []
    runs = runs_of_date(session, day)
    for run in runs:
        record = RunRecord.from_details(run.details or {})
        for m in record.price_missing or []:
            items.append(
                Attention("missing price", f"{m.symbol} of {m.price_date}", f"hedgeops check nightly --as-of {day}")
            )
        for f in record.failed_sources or []:
            items.append(Attention("price source failed", f"{f.source}: {f.error}", f"hedgeops runs show {run.id}"))
    counted = Counter((e["reason"], e["underlying"] or e["object"]) for e in exceptions)
    for (reason, what), n in sorted(counted.items()):
        items.append(Attention("MTM exception", f"{reason}: {what} ({n})", f"hedgeops report mtm --as-of {day}"))
    for c in conflicts_of(session, [r.id for r in runs]):
        items.append(
            Attention("conflict", f"{c.table_name} {c.idempotency_key}", f"hedgeops runs show {c.batch_run_id}")
        )
    for ref, reason, run_id in blocked_postings(session, day):
        items.append(Attention("postings blocked", f"{ref}: {reason}", f"hedgeops runs show {run_id}"))
    if facts is not None and RunStatus(facts.status) is RunStatus.FAILED:
        items.append(Attention("nightly failed", facts.error or "", f"hedgeops runs show {facts.batch_run_id}"))
    return items


def gather(settings: Settings, day: date, now: datetime) -> dict[str, Any]:
    """Everything the page shows, read in one unit of work (and the shared task views)."""
    from db import ledger
    from db.mtm_report import mtm_report
    from db.reports import contract_mtm_lines, nightly_facts
    from tasks.counterparties import counterparty_report
    from tasks.hedging.loading import effectiveness_report
    from tasks.mt5.guard_admin import guard_status
    from tasks.mt5.views import guard_alerts
    from tasks.ports import ports

    with ports().uow() as uow:
        s = uow.session
        facts = nightly_facts(s, day)
        steps = [] if facts is None else ledger.children(s, facts.batch_run_id)
        report = mtm_report(s, day)
        lines = contract_mtm_lines(s, day, report.previous)
        view: dict[str, Any] = {
            "freshness": _freshness(s, settings, day, now),
            "steps": [(r.id, r.job, r.status, r.finished_at, r.exceptions, r.conflicts) for r in steps],
            "attention": _attention(s, day, facts, report.exceptions),
            "previous": report.previous,
        }
    deadline = min(f.deadline for f in view["freshness"])
    view["check"] = check_nightly(
        day, facts, now=now, deadline=deadline, max_exceptions=0, max_unvalued_pct=settings.check_max_unvalued_pct
    )
    view["facts"] = facts
    view["by_underlying"] = group_mtm((x.underlying, x.currency, x.mtm, x.previous) for x in lines)
    view["by_counterparty"] = group_mtm((x.counterparty, x.currency, x.mtm, x.previous) for x in lines)
    view["counterparties"] = counterparty_report(day)
    view["effectiveness"] = effectiveness_report(day)
    view["guard"] = [v.as_dict() for v in guard_status()]
    view["alerts"] = guard_alerts(None, day)
    _more_attention(view, day)
    view["attention"] = list(dict.fromkeys(view["attention"]))  # a nightly and its step say the same once
    return view


def _more_attention(view: dict[str, Any], day: date) -> None:
    """Flags, breaches and tripped accounts need a person too."""
    items: list[Attention] = view["attention"]
    for line in view["effectiveness"]:
        if line.get("flagged"):
            detail = f"{line['designation_ref']} v{line['version']}: {line['outcome']}: {line.get('reason') or ''}"
            items.append(Attention("de-designation flag", detail, f"hedgeops report effectiveness --as-of {day}"))
    for c in view["counterparties"]:
        if c["breached"]:
            items.append(
                Attention(
                    "limit breached",
                    f"{c['counterparty_id']} {c['legal_name']}: {c['utilisation']}",
                    f"hedgeops report counterparties --as-of {day}",
                )
            )
    for g in view["guard"]:
        if g["state"] == "tripped":
            items.append(
                Attention(
                    "account tripped",
                    f"{g['login']} ({g['terminal']}): drawdown {g['drawdown_pct'] or '-'} %, "
                    f"day loss {g['day_loss_pct'] or '-'} %",
                    f"hedgeops guard status; hedgeops guard reset {g['login']} --by NAME --reason WHY",
                )
            )


def write_morning(settings: Settings, day: date, out: Path, now: datetime) -> Path:
    view = gather(settings, day, now)
    html = render("morning.html", day=day, made_at=now.isoformat(), **view)
    return write_page(out / file_name(day), html)
