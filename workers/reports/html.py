"""The HTML side of the reports: one Jinja environment (autoescaped), the templates beside
this module, and writing a page whole or not at all."""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape


def figure(value: Any) -> str:
    """A figure as the database holds it: a Decimal in its stored digits (never a float's
    rounding, never re-rounded: `-1804.00`, `1.020408`), a date in ISO form, None as `-`."""
    if value is None:
        return "-"
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        moment = value.astimezone(UTC) if value.tzinfo else value  # SQLite gives naive UTC back
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def money(value: Decimal | None) -> str:
    """Money with thousands separators and its two decimals (stored at 2 dp, half-even)."""
    return "-" if value is None else f"{value:,.2f}"


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("workers.reports", "templates"),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["figure"] = figure
    env.filters["money"] = money
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


def write_page(path: Path, html: str) -> Path:
    """Write `html` to `path` whole: a temporary file beside it, then renamed over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, 0o644)  # a report is for reading: not the 0600 of a temporary file
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(html)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
