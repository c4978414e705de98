"""MT5: accounts, expected positions, position snapshots, reconciliation logs

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import db.base
from db.append_only import create_append_only_triggers, drop_append_only_triggers

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
#: Results: PostgreSQL refuses UPDATE and DELETE on them (hedgeops_refuse_change() is 0001's).
APPEND_ONLY_TABLES = ("position_snapshots", "reconciliation_logs")


def upgrade() -> None:
    op.create_table(
        "mt5_accounts",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("login", BIG_ID, nullable=False),
        sa.Column("server", sa.String(length=64), nullable=False),
        sa.Column("terminal", sa.String(length=23), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("policy", sa.String(length=32), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("magic_numbers", JSON_DOC, nullable=False),
        sa.Column("credential_ref", sa.String(length=512), nullable=False),
        sa.Column("peak_equity", db.base.ExactDecimal(precision=24, scale=2), nullable=True),
        sa.Column("peak_equity_at", db.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", db.base.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mt5_accounts")),
        sa.UniqueConstraint("login", "server", name=op.f("uq_mt5_accounts_login_server")),
    )
    with op.batch_alter_table("mt5_accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mt5_accounts_terminal"), ["terminal"], unique=False)

    op.create_table(
        "expected_positions",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("account_id", BIG_ID, nullable=False),
        sa.Column("signal_id", sa.String(length=64), nullable=False),
        sa.Column("approval_id", sa.String(length=64), nullable=True),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("direction", sa.String(length=4), nullable=False),
        sa.Column("volume", db.base.ExactDecimal(precision=24, scale=6), nullable=False),
        sa.Column("entry_price", db.base.ExactDecimal(precision=24, scale=6), nullable=False),
        sa.Column("sl", db.base.ExactDecimal(precision=24, scale=6), nullable=True),
        sa.Column("tp", db.base.ExactDecimal(precision=24, scale=6), nullable=True),
        sa.Column("magic", BIG_ID, nullable=False),
        sa.Column("ticket", BIG_ID, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("closed_reason", sa.String(length=32), nullable=True),
        sa.Column("source", sa.String(length=512), nullable=False),
        sa.Column("created_at", db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["mt5_accounts.id"], name=op.f("fk_expected_positions_account_id_mt5_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expected_positions")),
        sa.UniqueConstraint("account_id", "signal_id", name=op.f("uq_expected_positions_account_id_signal_id")),
    )
    with op.batch_alter_table("expected_positions", schema=None) as batch_op:
        batch_op.create_index("ix_expected_positions_account_id_status", ["account_id", "status"], unique=False)

    op.create_table(
        "position_snapshots",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(length=160), nullable=False),
        sa.Column("account_id", BIG_ID, nullable=False),
        sa.Column("login", BIG_ID, nullable=False),
        sa.Column("sync_id", BIG_ID, nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("equity", db.base.ExactDecimal(precision=24, scale=2), nullable=True),
        sa.Column("balance", db.base.ExactDecimal(precision=24, scale=2), nullable=True),
        sa.Column("peak_equity", db.base.ExactDecimal(precision=24, scale=2), nullable=True),
        sa.Column("drawdown_percent", db.base.ExactDecimal(precision=12, scale=2), nullable=True),
        sa.Column("open_positions", sa.Integer(), nullable=True),
        sa.Column("total_volume", db.base.ExactDecimal(precision=24, scale=6), nullable=True),
        sa.Column("open_pnl", db.base.ExactDecimal(precision=24, scale=2), nullable=True),
        sa.Column("margin_level", db.base.ExactDecimal(precision=12, scale=2), nullable=True),
        sa.Column("synced_at", db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("error", sa.String(length=1000), nullable=True),
        sa.Column("error_kind", sa.String(length=32), nullable=True),
        sa.Column("payload", JSON_DOC, nullable=False),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("batch_run_id", BIG_ID, nullable=True),
        sa.Column("created_at", db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["mt5_accounts.id"], name=op.f("fk_position_snapshots_account_id_mt5_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["batch_run_id"], ["batch_runs.id"], name=op.f("fk_position_snapshots_batch_run_id_batch_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_position_snapshots")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_position_snapshots_idempotency_key")),
    )
    with op.batch_alter_table("position_snapshots", schema=None) as batch_op:
        batch_op.create_index("ix_position_snapshots_account_id_synced_at", ["account_id", "synced_at"], unique=False)

    op.create_table(
        "reconciliation_logs",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(length=160), nullable=False),
        sa.Column("account_id", BIG_ID, nullable=False),
        sa.Column("login", BIG_ID, nullable=False),
        sa.Column("sync_id", BIG_ID, nullable=False),
        sa.Column("event_type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("signal_id", sa.String(length=64), nullable=True),
        sa.Column("approval_id", sa.String(length=64), nullable=True),
        sa.Column("ticket", BIG_ID, nullable=True),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("direction", sa.String(length=4), nullable=True),
        sa.Column("expected_volume", db.base.ExactDecimal(precision=24, scale=6), nullable=True),
        sa.Column("volume", db.base.ExactDecimal(precision=24, scale=6), nullable=True),
        sa.Column("entry_price", db.base.ExactDecimal(precision=24, scale=6), nullable=True),
        sa.Column("open_price", db.base.ExactDecimal(precision=24, scale=6), nullable=True),
        sa.Column("current_price", db.base.ExactDecimal(precision=24, scale=6), nullable=True),
        sa.Column("stop_loss", db.base.ExactDecimal(precision=24, scale=6), nullable=True),
        sa.Column("take_profit", db.base.ExactDecimal(precision=24, scale=6), nullable=True),
        sa.Column("exit_price", db.base.ExactDecimal(precision=24, scale=6), nullable=True),
        sa.Column("close_reason", sa.String(length=16), nullable=True),
        sa.Column("close_profit", db.base.ExactDecimal(precision=24, scale=2), nullable=True),
        sa.Column("details", JSON_DOC, nullable=False),
        sa.Column("payload", JSON_DOC, nullable=False),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("batch_run_id", BIG_ID, nullable=True),
        sa.Column("created_at", db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["mt5_accounts.id"], name=op.f("fk_reconciliation_logs_account_id_mt5_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["batch_run_id"], ["batch_runs.id"], name=op.f("fk_reconciliation_logs_batch_run_id_batch_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_logs")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_reconciliation_logs_idempotency_key")),
    )
    with op.batch_alter_table("reconciliation_logs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reconciliation_logs_account_id_created_at", ["account_id", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_reconciliation_logs_batch_run_id"), ["batch_run_id"], unique=False)
        batch_op.create_index("ix_reconciliation_logs_symbol_created_at", ["symbol", "created_at"], unique=False)

    create_append_only_triggers(APPEND_ONLY_TABLES)


def downgrade() -> None:
    drop_append_only_triggers(APPEND_ONLY_TABLES)
    with op.batch_alter_table("reconciliation_logs", schema=None) as batch_op:
        batch_op.drop_index("ix_reconciliation_logs_symbol_created_at")
        batch_op.drop_index(batch_op.f("ix_reconciliation_logs_batch_run_id"))
        batch_op.drop_index("ix_reconciliation_logs_account_id_created_at")

    op.drop_table("reconciliation_logs")
    with op.batch_alter_table("position_snapshots", schema=None) as batch_op:
        batch_op.drop_index("ix_position_snapshots_account_id_synced_at")

    op.drop_table("position_snapshots")
    with op.batch_alter_table("expected_positions", schema=None) as batch_op:
        batch_op.drop_index("ix_expected_positions_account_id_status")

    op.drop_table("expected_positions")
    with op.batch_alter_table("mt5_accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mt5_accounts_terminal"))

    op.drop_table("mt5_accounts")
