"""Start-up checks of the settings as a whole, made by `load_settings` in every process
(CLI, worker, beat, Flower) before anything is created or sent."""

from __future__ import annotations


def broker_without_database(distributed: bool, database_named: bool) -> str | None:
    """A broker URL needs a database URL beside it: without one each worker, beat and CLI would
    use (and create) an embedded SQLite file of its own."""
    if distributed and not database_named:
        return (
            "HEDGEOPS_BROKER_URL is set but HEDGEOPS_DATABASE_URL is not: workers and this process would each "
            "use a SQLite file of their own; set HEDGEOPS_DATABASE_URL (postgresql+psycopg://...) or unset "
            "HEDGEOPS_BROKER_URL"
        )
    return None
