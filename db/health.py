"""Whether a database can be used, told in one line: no file yet, no schema yet, or
unreachable (a wrong host, port, name or password). Checked before anything is written
or sent, so a mistake in the URL leaves no trace."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy.exc
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from db.engine import engine_for

UPGRADE_HINT = "run `hedgeops db upgrade` first"


def shown(url: str) -> str:
    """The URL without its password."""
    return make_url(url).render_as_string(hide_password=True)


def database_problem(url: str, *, schema: bool = True) -> str | None:
    """None when the database answers and (with `schema`) has the schema; else what is
    wrong, one line."""
    parsed = make_url(url)
    if schema and parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        if not Path(parsed.database).is_file():
            return f"no database at {parsed.database}: {UPGRADE_HINT}"
    try:
        with engine_for(url).connect() as conn:
            if schema and not inspect(conn).has_table("batch_runs"):
                return f"the database {shown(url)} has no schema yet: {UPGRADE_HINT}"
    except sqlalchemy.exc.DBAPIError as exc:
        return f"cannot reach the database {shown(url)}: {one_line(str(exc.orig))}"
    return None


def one_line(text: str) -> str:
    return " ".join(part.strip() for part in text.splitlines() if part.strip())[:300]
