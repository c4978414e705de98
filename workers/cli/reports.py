"""`hedgeops report dossier RELATIONSHIP|--all --as-of D --out DIR` and `hedgeops report
morning --as-of D --out DIR`: the HTML reports people look at (workers.reports). Each file
is written whole or not at all; an unknown relationship writes nothing (exit 2)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from workers.cli.common import fail, out, parse_day, settings_or_exit, start

if TYPE_CHECKING:
    from db.hedging.dossier_report import DossierRows

OUT_OPTION = typer.Option("--out", help="the folder the pages are written to (made when missing)")


def out_dir(path: Path) -> Path:
    if path.exists() and not path.is_dir():
        raise fail(f"--out {path}: is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise fail(f"--out {path}: {exc.strerror or exc}") from None
    return path


def report_dossier(
    relationship: Annotated[str | None, typer.Argument(help="the designation ref (HD-1); none with --all")] = None,
    as_of: Annotated[str, typer.Option("--as-of", help="the date D of the dossier, YYYY-MM-DD")] = "",
    out_folder: Annotated[Path, OUT_OPTION] = Path("reports"),
    every: Annotated[bool, typer.Option("--all", help="every relationship, and an index page")] = False,
    jobs: Annotated[int, typer.Option("--jobs", min=1, max=64, help="with --all: rendering processes")] = 1,
) -> None:
    """The effectiveness dossier of a hedge relationship for an auditor: one self-contained
    HTML page (charts inline, prints on A4) with its designation versions, test history,
    charts, reserve and journal entries, and the provenance of every figure."""
    from db.hedging.dossier_report import dossier_rows, relationship_refs
    from tasks.ports import ports, utc_now
    from workers.reports.dossier import BATCH, write_dossiers, write_in_processes, write_index

    if not as_of:
        raise fail("--as-of is required")
    if every == (relationship is not None):
        raise fail("name one relationship, or --all")
    day = parse_day(as_of)
    settings = settings_or_exit()
    start(settings)
    if out_folder.exists() and not out_folder.is_dir():
        raise fail(f"--out {out_folder}: is a file, not a folder")
    now = utc_now()
    with ports().uow() as uow:
        if every:
            refs = relationship_refs(uow.session)
            batches: Iterator[list[DossierRows]] = (
                dossier_rows(uow.session, refs[i : i + BATCH], day) for i in range(0, len(refs), BATCH)
            )
        else:
            found = dossier_rows(uow.session, [str(relationship)], day)
            if not found:
                raise fail(f"no hedge relationship {relationship}")
            batches = iter([found])
        folder = out_dir(out_folder)  # made once there is something to write
        try:
            if every and jobs > 1:
                written = write_in_processes(settings.database_url, refs, folder, day, now, jobs)
            else:
                written = write_dossiers(batches, folder, day, now)
            index = write_index(written, folder, day, now) if every else None
        except OSError as exc:
            raise fail(f"--out {folder}: {exc.strerror or exc}") from None
    if index is None:
        for w in written:
            out.print(f"{w.ref}: {w.path}", markup=False, highlight=False)
    else:
        out.print(f"{len(written)} dossier(s) as of {day}: {index}", markup=False, highlight=False)


def report_morning(
    as_of: Annotated[str, typer.Option("--as-of", help="the night's as-of date D, YYYY-MM-DD")],
    out_folder: Annotated[Path, OUT_OPTION] = Path("reports"),
) -> None:
    """The morning pack of the night of D: one self-contained HTML page with each dataset's
    freshness against its deadline (HEDGEOPS_REPORT_DEADLINES), the nightly's steps and
    check, what needs a person with the command that shows it, MTM by underlying and by
    counterparty, limit use, effectiveness outcomes, guard states and alerts."""
    from tasks.ports import utc_now
    from workers.reports.morning import write_morning

    day = parse_day(as_of)
    settings = settings_or_exit()
    start(settings)
    folder = out_dir(out_folder)
    try:
        page = write_morning(settings, day, folder, utc_now())
    except OSError as exc:
        raise fail(f"--out {folder}: {exc.strerror or exc}") from None
    out.print(f"morning pack {day}: {page}", markup=False, highlight=False)
