"""`hedgeops report dossier`: one self-contained HTML page per hedge relationship for an
auditor: the designation versions, the test history, the charts (both legs' MTM, the
dollar-offset ratios against the band, the regression scatter), the reserve's roll-forward
and journal entries, and the provenance of every figure (snapshot keys and hashes, the
price rows and their sources). `--all`: one per relationship and an index page."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from core.hedging.dossier_view import offset_points, regression_points, reserve_by_period, stored_dates
from core.hedging.journal import JournalEntry as PostedEntry
from db.hedging.dossier_report import DossierRows
from db.hedging.models import EffectivenessResult
from workers.reports.charts import Series, scatter_chart, time_chart
from workers.reports.html import render, write_page

#: Relationships read per batch of `--all` (a handful of queries each; a batch's snapshots in memory at once).
BATCH = 100


@dataclass(frozen=True, slots=True)
class Written:
    ref: str
    path: Path
    outcome: str  # the latest test's outcome, `not tested` without one


def file_name(ref: str) -> str:
    """The page of a relationship: its ref with anything but letters, digits, `-`, `_` and `.` as `_`."""
    return "dossier-" + "".join(c if c.isalnum() or c in "-_." else "_" for c in ref) + ".html"


def _by_day(snapshots: Sequence[Any]) -> dict[date, Decimal]:
    return {s.as_of_date: s.mtm_value for s in snapshots}


def _regression(rows: DossierRows) -> dict[str, Any] | None:
    """The newest regression result with its points and chart; None when there is none."""
    latest = next((r for r in reversed(rows.results) if r.method == "regression" and r.details.get("dates")), None)
    if latest is None:
        return None
    version = next(v for v in rows.versions if v.id == latest.designation_id)
    points = regression_points(
        stored_dates(latest.details), _by_day(rows.instrument_mtm), _by_day(rows.item_mtm), version.hedge_ratio
    )
    view: dict[str, Any] = {"result": latest, "points": points if isinstance(points, list) else [], "problem": ""}
    if isinstance(points, str):
        view["problem"] = points
        return view
    band = (Decimal(str(latest.details["band"]["min"])), Decimal(str(latest.details["band"]["max"])))
    intercept = latest.details.get("intercept")
    view["chart"] = scatter_chart(
        "scatter",
        f"ΔI on ΔH, {latest.as_of_date}: n {latest.n_observations}, slope {latest.slope}, R² {latest.r_squared}",
        [p.delta_h for p in points],
        [p.delta_i for p in points],
        slope=latest.slope,
        intercept=None if intercept is None else Decimal(str(intercept)),
        band=band,
        xlabel=f"ΔH, instrument ({rows.contract.currency})",
        ylabel=f"ΔI x hedge ratio, item ({rows.item.currency})",
    )
    return view


def _charts(rows: DossierRows, as_of: date) -> dict[str, str]:
    charts: dict[str, str] = {}
    if not rows.versions:
        return charts
    span = (min(v.designation_date for v in rows.versions), as_of)
    if rows.instrument_mtm or rows.item_mtm:
        charts["mtm"] = time_chart(
            "mtm",
            f"MTM of both legs ({rows.contract.currency})",
            [
                Series("mtm-instrument", f"instrument {rows.contract.contract_ref}", *_xy(rows.instrument_mtm)),
                Series("mtm-item", f"hedged item {rows.item.item_ref}", *_xy(rows.item_mtm)),
            ],
            span=span,
        )
    offsets = offset_points((r.as_of_date, r.details) for r in rows.results if r.method == "dollar_offset")
    if offsets:
        band = rows.versions[-1]
        charts["offset"] = time_chart(
            "offset",
            "Dollar offset ΔH / ΔI against the band",
            [
                Series("ratio-cumulative", "cumulative", [p.day for p in offsets], [p.cumulative for p in offsets]),
                Series("ratio-periodic", "periodic", [p.day for p in offsets], [p.periodic for p in offsets]),
            ],
            span=span,
            band=(band.band_min, band.band_max),
            ylabel="ratio",
        )
    return charts


def _xy(snapshots: Sequence[Any]) -> tuple[list[date], list[Decimal | None]]:
    return [s.as_of_date for s in snapshots], [s.mtm_value for s in snapshots]


def _reason(result: EffectivenessResult) -> str:
    return str((result.details or {}).get("reason") or "")


def _entries(rows: DossierRows) -> list[dict[str, Any]]:
    return [
        {
            "entry": e,
            "lines": [{**line, "amount": Decimal(str(line["amount"]))} for line in e.payload.get("lines", [])],
            "currency": e.payload.get("currency", ""),
        }
        for e in rows.entries
    ]


def dossier_html(rows: DossierRows, as_of: date, made_at: datetime) -> str:
    posted = [PostedEntry.from_payload(e.payload) for e in rows.entries]
    return render(
        "dossier.html",
        d=rows,
        as_of=as_of,
        made_at=made_at.isoformat(),
        charts=_charts(rows, as_of),
        regression=_regression(rows),
        reasons={r.id: _reason(r) for r in rows.results},
        entries=_entries(rows),
        reserve=reserve_by_period(posted, rows.relationship.id),
        snapshots=sorted([*rows.instrument_mtm, *rows.item_mtm], key=lambda s: (s.as_of_date, s.object_type)),
        prices=sorted(rows.prices.values(), key=lambda p: (p.price_date, p.id)),
    )


def write_dossiers(batches: Iterator[list[DossierRows]], out: Path, as_of: date, made_at: datetime) -> list[Written]:
    """Each relationship's page, written whole, as its batch is read."""
    written = []
    for batch in batches:
        for rows in batch:
            path = write_page(out / file_name(rows.relationship.designation_ref), dossier_html(rows, as_of, made_at))
            outcome = rows.results[-1].outcome if rows.results else "not tested"
            written.append(Written(rows.relationship.designation_ref, path, outcome))
    return written


def write_index(written: Sequence[Written], out: Path, as_of: date, made_at: datetime) -> Path:
    return write_page(
        out / "index.html", render("index.html", written=written, as_of=as_of, made_at=made_at.isoformat())
    )


def _render_batch(job: tuple[str, list[str], Path, date, datetime]) -> list[Written]:
    """One batch in a rendering process of its own (spawned: its own engine)."""
    from db.engine import session_factory
    from db.hedging.dossier_report import dossier_rows

    url, refs, out, as_of, made_at = job
    with session_factory(url)() as session:
        return write_dossiers(iter([dossier_rows(session, refs, as_of)]), out, as_of, made_at)


def write_in_processes(
    url: str, refs: Sequence[str], out: Path, as_of: date, made_at: datetime, processes: int
) -> list[Written]:
    """`--all --jobs N`: the batches rendered by N spawned processes, in ref order. Each reads
    what it renders; nothing is shared but the database and the folder."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    jobs = [(url, list(refs[i : i + BATCH]), out, as_of, made_at) for i in range(0, len(refs), BATCH)]
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        return [w for written in pool.map(_render_batch, jobs) for w in written]
