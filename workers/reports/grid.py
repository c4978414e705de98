"""`hedgeops runs grid --html FILE`: the grid of runs as a page; each run's cell links to
its line below (the command that shows it in full)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from core.run_grid import RunGrid
from workers.reports.html import render, write_page


def grid_html(grid: RunGrid, made_at: datetime) -> str:
    runs = [c for day in grid.days for job in grid.jobs if (c := grid.cell(job, day)).run is not None]
    first, last = (min(grid.days), max(grid.days)) if grid.days else ("-", "-")
    return render("grid.html", grid=grid, runs=runs, first=first, last=last, made_at=made_at.isoformat())


def write_grid(grid: RunGrid, path: Path, made_at: datetime) -> Path:
    return write_page(path, grid_html(grid, made_at))
