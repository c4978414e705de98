"""`hedgeops db ...`: the schema."""

from __future__ import annotations

import typer

from workers.cli.common import EXIT_UNREACHABLE, fail, out, settings_or_exit

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the newest revision."""
    from db.health import database_problem
    from db.migrate import upgrade

    settings = settings_or_exit()
    problem = database_problem(settings.database_url, schema=False)
    if problem is not None:
        raise fail(problem, EXIT_UNREACHABLE)
    upgrade(settings.database_url)
    out.print("database upgraded to head")
