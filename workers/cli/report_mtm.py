"""`hedgeops report mtm --as-of D [--by contract|underlying] [--json|--csv]`: the valuation of a
date as people and spreadsheets read it. Every snapshot with its price and where the price
came from (source, confidence, file or request, the price row), every exception with its
reason, and the change from the previous date that has snapshots."""

from __future__ import annotations

import csv
import json
import sys
from collections import defaultdict
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.table import Table

from workers.cli.common import fail, out, parse_day, settings_or_exit, start


class By(StrEnum):
    contract = "contract"
    underlying = "underlying"


CONTRACT_COLUMNS = (
    "contract_ref",
    "underlying",
    "side",
    "quantity_mt",
    "entry_price",
    "price_d1",
    "price_date",
    "source",
    "confidence",
    "provenance",
    "price_id",
    "mtm",
    "currency",
    "previous_mtm",
    "change",
)
UNDERLYING_COLUMNS = ("underlying", "currency", "contracts", "mtm", "previous_mtm", "change", "exceptions")


def report_mtm(
    as_of: Annotated[str, typer.Option("--as-of", help="the valuation date D, YYYY-MM-DD")],
    by: Annotated[By, typer.Option("--by", help="one line per contract, or per underlying and currency")] = By.contract,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="print CSV (exceptions as rows of kind exception)")] = False,
) -> None:
    """The MTM of a date: each snapshot with its price and provenance, each exception with its
    reason, and the change from the previous date that has snapshots."""
    from db.mtm_report import mtm_report
    from tasks.ports import ports

    day = parse_day(as_of)
    if as_json and as_csv:
        raise fail("--json and --csv: choose one")
    start(settings_or_exit())
    with ports().uow() as uow:
        report = mtm_report(uow.session, day)
    lines = report.snapshots if by is By.contract else by_underlying(report.snapshots, report.exceptions)
    columns = CONTRACT_COLUMNS if by is By.contract else UNDERLYING_COLUMNS
    body = {"as_of": day, "previous_date": report.previous, "by": by.value, "lines": lines}
    if as_json:
        print(json.dumps({**body, "exceptions": report.exceptions}, default=str))  # money as stored: 20750.00
    elif as_csv:
        write_csv(columns, lines, report.exceptions)
    else:
        show(columns, body, report.exceptions)


def by_underlying(snapshots: list[dict[str, Any]], exceptions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sums per (underlying, currency); the previous sum over the contracts valued on both dates."""
    groups: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {"contracts": 0, "mtm": Decimal(0), "previous_mtm": None, "change": None}
    )
    for s in snapshots:
        g = groups[(s["underlying"], s["currency"])]
        g["contracts"] += 1
        g["mtm"] += s["mtm"]
        if s["previous_mtm"] is not None:
            g["previous_mtm"] = (g["previous_mtm"] or Decimal(0)) + s["previous_mtm"]
            g["change"] = (g["change"] or Decimal(0)) + s["change"]
    missed: dict[str, int] = defaultdict(int)
    for e in exceptions:
        missed[e["underlying"] or e["object"]] += 1
    lines = [
        {"underlying": u, "currency": c, **g, "exceptions": missed.pop(u, 0)} for (u, c), g in sorted(groups.items())
    ]
    lines += [{"underlying": u, "currency": None, "contracts": 0, "exceptions": n} for u, n in sorted(missed.items())]
    return lines


def _text(value: Any) -> str:
    return "-" if value is None else str(value)


def write_csv(columns: tuple[str, ...], lines: list[dict[str, Any]], exceptions: list[dict[str, Any]]) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(("kind", *columns, "reason"))
    for line in lines:
        writer.writerow(("snapshot", *("" if line.get(c) is None else line[c] for c in columns), ""))
    for e in exceptions:
        writer.writerow(("exception", *("" if e.get(c) is None else e[c] for c in columns), e["reason"]))


def show(columns: tuple[str, ...], body: dict[str, Any], exceptions: list[dict[str, Any]]) -> None:
    title = f"MTM as of {body['as_of']} (change from {body['previous_date'] or 'no earlier date'})"
    table = Table(*columns, title=title)
    for line in body["lines"]:
        table.add_row(*(_text(line.get(c)) for c in columns))
    out.print(table)
    if exceptions:
        missed = Table("contract_ref", "underlying", "reason", "details", title="exceptions")
        for e in exceptions:
            missed.add_row(
                _text(e["contract_ref"] or e["object"]),
                _text(e["underlying"]),
                e["reason"],
                json.dumps(e["details"], default=str),
            )
        out.print(missed)
