"""hedge accounting: hedged items, designations, effectiveness

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import db.base
from db.append_only import create_append_only_triggers, drop_append_only_triggers

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
#: Written once, never changed: PostgreSQL refuses UPDATE and DELETE (hedgeops_refuse_change() is 0001's).
IMMUTABLE_TABLES = ("hedged_items", "hedge_relationships", "hedge_designations", "effectiveness_results")

#: The current-version flag, derived (a stored flag would have to change on an immutable row):
#: the current version of a relationship is its highest.
STATUS_VIEW = """
CREATE VIEW hedge_designation_status AS
SELECT d.id AS designation_id, d.relationship_id, r.designation_ref, d.version, m.current_version,
       (d.version = m.current_version) AS is_current,
       CASE WHEN d.version < m.current_version THEN d.version + 1 END AS superseded_by_version
FROM hedge_designations d
JOIN hedge_relationships r ON r.id = d.relationship_id
JOIN (SELECT relationship_id, max(version) AS current_version
      FROM hedge_designations GROUP BY relationship_id) m ON m.relationship_id = d.relationship_id
"""


def upgrade() -> None:
    with op.batch_alter_table("hedge_contracts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("settlement_method", sa.String(length=16), nullable=True))

    op.create_table(
        "hedged_items",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("item_ref", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("underlying", sa.String(length=32), nullable=False),
        sa.Column("amount", db.base.ExactDecimal(precision=24, scale=6), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("exposure_date", sa.Date(), nullable=False),
        sa.Column("probability", db.base.ExactDecimal(precision=24, scale=6), nullable=True),
        sa.Column("description", sa.String(length=4000), nullable=False),
        sa.Column("payload", JSON_DOC, nullable=False),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", db.base.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hedged_items")),
        sa.UniqueConstraint("item_ref", name=op.f("uq_hedged_items_item_ref")),
    )
    op.create_table(
        "hedge_relationships",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("designation_ref", sa.String(length=64), nullable=False),
        sa.Column("contract_id", BIG_ID, nullable=False),
        sa.Column("hedged_item_id", BIG_ID, nullable=False),
        sa.Column("created_at", db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["hedge_contracts.id"], name=op.f("fk_hedge_relationships_contract_id_hedge_contracts")
        ),
        sa.ForeignKeyConstraint(
            ["hedged_item_id"], ["hedged_items.id"], name=op.f("fk_hedge_relationships_hedged_item_id_hedged_items")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hedge_relationships")),
        sa.UniqueConstraint("designation_ref", name=op.f("uq_hedge_relationships_designation_ref")),
    )
    with op.batch_alter_table("hedge_relationships", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hedge_relationships_contract_id"), ["contract_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_hedge_relationships_hedged_item_id"), ["hedged_item_id"], unique=False)

    op.create_table(
        "hedge_designations",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("relationship_id", BIG_ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("hedge_type", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("offset_basis", sa.String(length=16), nullable=False),
        sa.Column("designation_date", sa.Date(), nullable=False),
        sa.Column("hedge_ratio", db.base.ExactDecimal(precision=24, scale=6), nullable=False),
        sa.Column("band_min", db.base.ExactDecimal(precision=24, scale=6), nullable=False),
        sa.Column("band_max", db.base.ExactDecimal(precision=24, scale=6), nullable=False),
        sa.Column("materiality_floor", db.base.ExactDecimal(precision=24, scale=2), nullable=False),
        sa.Column("regression_window", sa.Integer(), nullable=False),
        sa.Column("min_observations", sa.Integer(), nullable=False),
        sa.Column("r_squared_min", db.base.ExactDecimal(precision=24, scale=6), nullable=False),
        sa.Column("p_value_max", db.base.ExactDecimal(precision=24, scale=6), nullable=False),
        sa.Column("maturity_tolerance_days", sa.Integer(), nullable=False),
        sa.Column("notional_tolerance", db.base.ExactDecimal(precision=24, scale=6), nullable=False),
        sa.Column("hedged_item_rate", db.base.ExactDecimal(precision=24, scale=6), nullable=False),
        sa.Column("oci_release_method", sa.String(length=32), nullable=False),
        sa.Column("designated_by", sa.String(length=64), nullable=False),
        sa.Column("approver_1", sa.String(length=64), nullable=False),
        sa.Column("approver_2", sa.String(length=64), nullable=False),
        sa.Column("amendment_reason", sa.String(length=4000), nullable=True),
        sa.Column("documentation", JSON_DOC, nullable=False),
        sa.Column("snapshot", JSON_DOC, nullable=False),
        sa.Column("prospective_test", JSON_DOC, nullable=False),
        sa.Column("payload", JSON_DOC, nullable=False),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["relationship_id"],
            ["hedge_relationships.id"],
            name=op.f("fk_hedge_designations_relationship_id_hedge_relationships"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hedge_designations")),
        sa.UniqueConstraint("relationship_id", "version", name=op.f("uq_hedge_designations_relationship_id_version")),
    )
    op.create_table(
        "effectiveness_results",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(length=160), nullable=False),
        sa.Column("relationship_id", BIG_ID, nullable=False),
        sa.Column("designation_id", BIG_ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("as_of_date", sa.Date(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("ratio", db.base.ExactDecimal(precision=24, scale=6), nullable=True),
        sa.Column("slope", db.base.ExactDecimal(precision=24, scale=6), nullable=True),
        sa.Column("r_squared", db.base.ExactDecimal(precision=24, scale=6), nullable=True),
        sa.Column("p_value", db.base.ExactDecimal(precision=24, scale=6), nullable=True),
        sa.Column("n_observations", sa.Integer(), nullable=True),
        sa.Column("details", JSON_DOC, nullable=False),
        sa.Column("payload", JSON_DOC, nullable=False),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("batch_run_id", BIG_ID, nullable=True),
        sa.Column("created_at", db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_run_id"], ["batch_runs.id"], name=op.f("fk_effectiveness_results_batch_run_id_batch_runs")
        ),
        sa.ForeignKeyConstraint(
            ["designation_id"],
            ["hedge_designations.id"],
            name=op.f("fk_effectiveness_results_designation_id_hedge_designations"),
        ),
        sa.ForeignKeyConstraint(
            ["relationship_id"],
            ["hedge_relationships.id"],
            name=op.f("fk_effectiveness_results_relationship_id_hedge_relationships"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_effectiveness_results")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_effectiveness_results_idempotency_key")),
    )
    with op.batch_alter_table("effectiveness_results", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_effectiveness_results_as_of_date"), ["as_of_date"], unique=False)
        batch_op.create_index(
            "ix_effectiveness_results_relationship_id_as_of_date", ["relationship_id", "as_of_date"], unique=False
        )

    op.execute(STATUS_VIEW)
    create_append_only_triggers(IMMUTABLE_TABLES)


def downgrade() -> None:
    drop_append_only_triggers(IMMUTABLE_TABLES)
    op.execute("DROP VIEW IF EXISTS hedge_designation_status")
    with op.batch_alter_table("effectiveness_results", schema=None) as batch_op:
        batch_op.drop_index("ix_effectiveness_results_relationship_id_as_of_date")
        batch_op.drop_index(batch_op.f("ix_effectiveness_results_as_of_date"))

    op.drop_table("effectiveness_results")
    op.drop_table("hedge_designations")
    with op.batch_alter_table("hedge_relationships", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hedge_relationships_hedged_item_id"))
        batch_op.drop_index(batch_op.f("ix_hedge_relationships_contract_id"))

    op.drop_table("hedge_relationships")
    op.drop_table("hedged_items")
    with op.batch_alter_table("hedge_contracts", schema=None) as batch_op:
        batch_op.drop_column("settlement_method")
