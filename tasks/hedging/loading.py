"""Hedge accounting on demand (the CLI): loading hedged items and designations, and the
effectiveness report of a date."""

from __future__ import annotations

from datetime import date
from typing import Any

from core.errors import InvalidInput
from core.hedging.dossier import parse_designations
from core.hedging.items import parse_hedged_items
from db.hedging.dossiers import Loaded, load_designations, load_hedged_items
from db.hedging.effectiveness import report_lines
from tasks.hedging.ports import hedging_ports
from tasks.ports import ports


def load_hedged_items_json(text: str, file: str) -> Loaded:
    """All or nothing: any bad entry or changed item and nothing is written."""
    p = ports()
    rows, errors = parse_hedged_items(text, file, p.date_window)
    if errors:
        raise InvalidInput(f"{file}: {len(errors)} bad hedged item(s); nothing loaded", errors)
    with p.uow() as uow:
        loaded = load_hedged_items(uow.session, rows, now=p.clock(), source=file)
        uow.commit()
    return loaded


def load_designations_json(text: str, file: str) -> Loaded:
    """All or nothing; parameters left out are locked from the policy; the prospective
    critical-terms check of each new version is recorded (and listed in `notes`)."""
    p, hedging = ports(), hedging_ports()
    rows, errors = parse_designations(text, file, p.date_window)
    if errors:
        raise InvalidInput(f"{file}: {len(errors)} bad designation(s); nothing loaded", errors)
    with p.uow() as uow:
        loaded = load_designations(uow.session, rows, hedging.policy, now=p.clock(), source=file)
        uow.commit()
    return loaded


def effectiveness_report(as_of: date) -> list[dict[str, Any]]:
    with ports().uow() as uow:
        return report_lines(uow.session, as_of)
