"""Drawdown guard: guard states, close intents (the outbox of closes), notifications (the
outbox of alerts), drawdown alerts (append-only results)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import db.base
from db.append_only import create_append_only_triggers, drop_append_only_triggers

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

APPEND_ONLY_TABLES = ("drawdown_alerts",)


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(length=160), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("login", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("message", sa.String(length=2000), nullable=False),
        sa.Column(
            "details", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column("created_at", db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", db.base.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_notifications_idempotency_key")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notifications_status"), ["status"], unique=False)

    op.create_table(
        "close_intents",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(length=160), nullable=False),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("login", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("terminal", sa.String(length=23), nullable=False),
        sa.Column("ticket", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("position_type", sa.Integer(), nullable=False),
        sa.Column("volume", db.base.ExactDecimal(precision=24, scale=6), nullable=False),
        sa.Column("position_time_msc", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("market_closed", sa.Integer(), nullable=False),
        sa.Column("partial_fills", sa.Integer(), nullable=False),
        sa.Column("filling_index", sa.Integer(), nullable=False),
        sa.Column("market_alerted", sa.Boolean(), nullable=False),
        sa.Column("last_retcode", sa.Integer(), nullable=True),
        sa.Column(
            "last_request", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=True
        ),
        sa.Column(
            "last_result", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=True
        ),
        sa.Column("realised_profit", db.base.ExactDecimal(precision=24, scale=2), nullable=True),
        sa.Column("error", sa.String(length=1000), nullable=True),
        sa.Column("created_at", db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", db.base.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["mt5_accounts.id"], name=op.f("fk_close_intents_account_id_mt5_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_close_intents")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_close_intents_idempotency_key")),
    )
    with op.batch_alter_table("close_intents", schema=None) as batch_op:
        batch_op.create_index("ix_close_intents_account_id_status", ["account_id", "status"], unique=False)

    op.create_table(
        "drawdown_alerts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(length=160), nullable=False),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("login", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("alert_type", sa.String(length=24), nullable=False),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("current_pct", db.base.ExactDecimal(precision=12, scale=4), nullable=True),
        sa.Column("day_loss_pct", db.base.ExactDecimal(precision=12, scale=4), nullable=True),
        sa.Column("threshold_pct", db.base.ExactDecimal(precision=12, scale=4), nullable=True),
        sa.Column("equity", db.base.ExactDecimal(precision=24, scale=2), nullable=True),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("positions_closed", sa.Integer(), nullable=False),
        sa.Column("realised_loss", db.base.ExactDecimal(precision=24, scale=2), nullable=True),
        sa.Column(
            "details", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "payload", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("batch_run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["mt5_accounts.id"], name=op.f("fk_drawdown_alerts_account_id_mt5_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["batch_run_id"], ["batch_runs.id"], name=op.f("fk_drawdown_alerts_batch_run_id_batch_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drawdown_alerts")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_drawdown_alerts_idempotency_key")),
    )
    with op.batch_alter_table("drawdown_alerts", schema=None) as batch_op:
        batch_op.create_index("ix_drawdown_alerts_account_id_created_at", ["account_id", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_drawdown_alerts_alert_type"), ["alert_type"], unique=False)

    op.create_table(
        "guard_states",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("login", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("state", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False),
        sa.Column("updated_at", db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["mt5_accounts.id"], name=op.f("fk_guard_states_account_id_mt5_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guard_states")),
        sa.UniqueConstraint("account_id", name=op.f("uq_guard_states_account_id")),
    )
    create_append_only_triggers(APPEND_ONLY_TABLES)


def downgrade() -> None:
    drop_append_only_triggers(APPEND_ONLY_TABLES)
    op.drop_table("guard_states")
    with op.batch_alter_table("drawdown_alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_drawdown_alerts_alert_type"))
        batch_op.drop_index("ix_drawdown_alerts_account_id_created_at")

    op.drop_table("drawdown_alerts")
    with op.batch_alter_table("close_intents", schema=None) as batch_op:
        batch_op.drop_index("ix_close_intents_account_id_status")

    op.drop_table("close_intents")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notifications_status"))

    op.drop_table("notifications")
