"""Append-only tables on PostgreSQL: triggers refuse UPDATE and DELETE (row by row) and
TRUNCATE (the statement). SQLite has none: there the write path is the only writer, and
it only inserts. Used by the migrations; keep these functions' behaviour stable."""

from __future__ import annotations

from collections.abc import Iterable

from alembic import op

REFUSE_FUNCTION = """
CREATE OR REPLACE FUNCTION hedgeops_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql
"""


def create_append_only_triggers(tables: Iterable[str]) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(REFUSE_FUNCTION)
    for table in tables:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION hedgeops_refuse_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION hedgeops_refuse_change()"
        )


def drop_append_only_triggers(tables: Iterable[str]) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in tables:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
