"""skeleton: contracts, prices, mtm, ledger, audit

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import db.base
from db.append_only import create_append_only_triggers, drop_append_only_triggers

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batch_runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("job", sa.String(length=32), nullable=False),
        sa.Column("as_of_date", sa.Date(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("parent_run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("existing", sa.Integer(), nullable=False),
        sa.Column("conflicts", sa.Integer(), nullable=False),
        sa.Column("exceptions", sa.Integer(), nullable=False),
        sa.Column("chunks_total", sa.Integer(), nullable=False),
        sa.Column("chunks_done", sa.Integer(), nullable=False),
        sa.Column("lock_token", sa.String(length=64), nullable=True),
        sa.Column("task_id", sa.String(length=64), nullable=True),
        sa.Column("error", sa.String(length=2000), nullable=True),
        sa.Column(
            "details", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("started_at", db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", db.base.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["parent_run_id"], ["batch_runs.id"], name=op.f("fk_batch_runs_parent_run_id_batch_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_runs")),
        sa.UniqueConstraint("job", "as_of_date", "attempt", name=op.f("uq_batch_runs_job_as_of_date_attempt")),
    )
    with op.batch_alter_table("batch_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_batch_runs_parent_run_id"), ["parent_run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_batch_runs_status"), ["status"], unique=False)
        batch_op.create_index(
            "uq_batch_runs_one_running",
            ["job", "as_of_date"],
            unique=True,
            postgresql_where=sa.text("status = 'running'"),
            sqlite_where=sa.text("status = 'running'"),
        )

    op.create_table(
        "hedge_contracts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("contract_ref", sa.String(length=64), nullable=False),
        sa.Column("instrument", sa.String(length=32), nullable=False),
        sa.Column("underlying", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("quantity", db.base.ExactDecimal(precision=24, scale=6), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("entry_price", db.base.ExactDecimal(precision=24, scale=6), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("trade_date", sa.Date(), nullable=False),
        sa.Column("maturity_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", db.base.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hedge_contracts")),
        sa.UniqueConstraint("contract_ref", name=op.f("uq_hedge_contracts_contract_ref")),
    )
    with op.batch_alter_table("hedge_contracts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hedge_contracts_status"), ["status"], unique=False)

    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("entity_type", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=160), nullable=False),
        sa.Column("batch_run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column(
            "details", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("occurred_at", db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_run_id"], ["batch_runs.id"], name=op.f("fk_audit_events_batch_run_id_batch_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_batch_run_id"), ["batch_run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_event_type"), ["event_type"], unique=False)

    op.create_table(
        "batch_run_chunks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("batch_run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("chunk_no", sa.Integer(), nullable=False),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("existing", sa.Integer(), nullable=False),
        sa.Column("conflicts", sa.Integer(), nullable=False),
        sa.Column("exceptions", sa.Integer(), nullable=False),
        sa.Column("finished_at", db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_run_id"], ["batch_runs.id"], name=op.f("fk_batch_run_chunks_batch_run_id_batch_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_run_chunks")),
        sa.UniqueConstraint("batch_run_id", "chunk_no", name=op.f("uq_batch_run_chunks_batch_run_id_chunk_no")),
    )
    op.create_table(
        "idempotency_conflicts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=160), nullable=False),
        sa.Column("existing_sha256", sa.String(length=64), nullable=False),
        sa.Column("incoming_sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "existing_payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "incoming_payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("batch_run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("detected_at", db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_run_id"], ["batch_runs.id"], name=op.f("fk_idempotency_conflicts_batch_run_id_batch_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_conflicts")),
        sa.UniqueConstraint(
            "idempotency_key", "incoming_sha256", name=op.f("uq_idempotency_conflicts_idempotency_key_incoming_sha256")
        ),
    )
    with op.batch_alter_table("idempotency_conflicts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_idempotency_conflicts_idempotency_key"), ["idempotency_key"], unique=False)

    op.create_table(
        "mtm_exceptions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(length=160), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("as_of_date", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column(
            "details", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "payload", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("batch_run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_run_id"], ["batch_runs.id"], name=op.f("fk_mtm_exceptions_batch_run_id_batch_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mtm_exceptions")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_mtm_exceptions_idempotency_key")),
    )
    with op.batch_alter_table("mtm_exceptions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_mtm_exceptions_as_of_date_object", ["as_of_date", "object_type", "object_id"], unique=False
        )

    op.create_table(
        "settlement_prices",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(length=160), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("price_date", sa.Date(), nullable=False),
        sa.Column("price", db.base.ExactDecimal(precision=24, scale=6), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("price_type", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("confidence", sa.String(length=16), nullable=False),
        sa.Column("published_at", db.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("fetched_at", db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("file_name", sa.String(length=512), nullable=True),
        sa.Column("file_sha256", sa.String(length=64), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("source_line", sa.Integer(), nullable=True),
        sa.Column(
            "payload", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("batch_run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_run_id"], ["batch_runs.id"], name=op.f("fk_settlement_prices_batch_run_id_batch_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_prices")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_settlement_prices_idempotency_key")),
        sa.UniqueConstraint(
            "symbol", "price_date", "source", name=op.f("uq_settlement_prices_symbol_price_date_source")
        ),
    )
    with op.batch_alter_table("settlement_prices", schema=None) as batch_op:
        batch_op.create_index("ix_settlement_prices_symbol_price_date", ["symbol", "price_date"], unique=False)

    op.create_table(
        "mtm_snapshots",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(length=160), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("as_of_date", sa.Date(), nullable=False),
        sa.Column("price_date", sa.Date(), nullable=False),
        sa.Column("price_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("mtm_value", db.base.ExactDecimal(precision=24, scale=2), nullable=False),
        sa.Column("price_d1", db.base.ExactDecimal(precision=24, scale=6), nullable=False),
        sa.Column("entry_price", db.base.ExactDecimal(precision=24, scale=6), nullable=False),
        sa.Column("quantity_mt", db.base.ExactDecimal(precision=24, scale=6), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("correlation_id", sa.String(length=64), nullable=True),
        sa.Column(
            "payload", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("batch_run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_run_id"], ["batch_runs.id"], name=op.f("fk_mtm_snapshots_batch_run_id_batch_runs")
        ),
        sa.ForeignKeyConstraint(
            ["price_id"], ["settlement_prices.id"], name=op.f("fk_mtm_snapshots_price_id_settlement_prices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mtm_snapshots")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_mtm_snapshots_idempotency_key")),
        sa.UniqueConstraint(
            "object_type", "object_id", "as_of_date", name=op.f("uq_mtm_snapshots_object_type_object_id_as_of_date")
        ),
    )
    with op.batch_alter_table("mtm_snapshots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mtm_snapshots_as_of_date"), ["as_of_date"], unique=False)

    create_append_only_triggers(("mtm_snapshots", "audit_events"))


def downgrade() -> None:
    drop_append_only_triggers(("mtm_snapshots", "audit_events"))
    with op.batch_alter_table("mtm_snapshots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mtm_snapshots_as_of_date"))

    op.drop_table("mtm_snapshots")
    with op.batch_alter_table("settlement_prices", schema=None) as batch_op:
        batch_op.drop_index("ix_settlement_prices_symbol_price_date")

    op.drop_table("settlement_prices")
    with op.batch_alter_table("mtm_exceptions", schema=None) as batch_op:
        batch_op.drop_index("ix_mtm_exceptions_as_of_date_object")

    op.drop_table("mtm_exceptions")
    with op.batch_alter_table("idempotency_conflicts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_conflicts_idempotency_key"))

    op.drop_table("idempotency_conflicts")
    op.drop_table("batch_run_chunks")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_event_type"))
        batch_op.drop_index(batch_op.f("ix_audit_events_batch_run_id"))

    op.drop_table("audit_events")
    with op.batch_alter_table("hedge_contracts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hedge_contracts_status"))

    op.drop_table("hedge_contracts")
    with op.batch_alter_table("batch_runs", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_batch_runs_one_running",
            postgresql_where=sa.text("status = 'running'"),
            sqlite_where=sa.text("status = 'running'"),
        )
        batch_op.drop_index(batch_op.f("ix_batch_runs_status"))
        batch_op.drop_index(batch_op.f("ix_batch_runs_parent_run_id"))

    op.drop_table("batch_runs")
