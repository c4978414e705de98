"""Tables. Result tables (prices, snapshots, exceptions) are `ResultTable`s: they carry an
idempotency key, the canonical payload and its hash, and the write path needs nothing else
to tell created, existing and conflict apart."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import (
    Base,
    BigId,
    ExactDecimal,
    IntPk,
    JsonDoc,
    Money,
    Quantity,
    Rate,
    ResultTable,
    Sha256,
    Timestamp,
    UtcDateTime,
)

Json = dict[str, Any]


class Counterparty(Base):
    """Counterparty master data (seed 004 §6.1; migration 0014): loaded from a file, changes
    audited with before and after; the LEI never changes under an id."""

    __tablename__ = "counterparties"

    id: Mapped[IntPk]
    counterparty_id: Mapped[str] = mapped_column(String(64), unique=True)
    legal_name: Mapped[str] = mapped_column(String(200))
    lei: Mapped[str] = mapped_column(String(20), unique=True)
    isda_agreement_ref: Mapped[str | None] = mapped_column(String(64))
    #: Null: no netting agreement (every contract its own netting set).
    netting_set: Mapped[str | None] = mapped_column(String(64), unique=True)
    credit_limit: Mapped[Money]
    limit_currency: Mapped[str] = mapped_column(String(3))
    settlement_instructions_ref: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[Timestamp]
    updated_at: Mapped[Timestamp]


class HedgeContract(Base):
    __tablename__ = "hedge_contracts"

    id: Mapped[IntPk]
    contract_ref: Mapped[str] = mapped_column(String(64), unique=True)
    instrument: Mapped[str] = mapped_column(String(32))
    underlying: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[Quantity]
    unit: Mapped[str] = mapped_column(String(16))
    entry_price: Mapped[Rate]
    currency: Mapped[str] = mapped_column(String(3))
    trade_date: Mapped[date]
    maturity_date: Mapped[date]
    status: Mapped[str] = mapped_column(String(16), index=True)
    #: fx_forward only: deliverable or ndf (migration 0004).
    settlement_method: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[Timestamp]
    updated_at: Mapped[Timestamp]
    #: The counterparty traded with (migration 0014); null for a contract loaded without one.
    counterparty_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("counterparties.id"), index=True)
    #: Where its settlement's fixing is read: ecb or a configured price source (migration 0019); null: the default.
    fixing_source: Mapped[str | None] = mapped_column(String(64))


class BatchRun(Base):
    """The run ledger: one row per (job, as_of_date, attempt); fan-in goes through it."""

    __tablename__ = "batch_runs"
    __table_args__ = (
        UniqueConstraint("job", "as_of_date", "attempt"),
        # The database guard: at most one running attempt of a (job, as_of_date).
        Index(
            "uq_batch_runs_one_running",
            "job",
            "as_of_date",
            unique=True,
            postgresql_where=text("status = 'running'"),
            sqlite_where=text("status = 'running'"),
        ),
    )

    id: Mapped[IntPk]
    job: Mapped[str] = mapped_column(String(32))
    as_of_date: Mapped[date]
    attempt: Mapped[int]
    trigger: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32), index=True)
    parent_run_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("batch_runs.id"), index=True)
    processed: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    existing: Mapped[int] = mapped_column(default=0)
    conflicts: Mapped[int] = mapped_column(default=0)
    exceptions: Mapped[int] = mapped_column(default=0)
    chunks_total: Mapped[int] = mapped_column(default=0)
    chunks_done: Mapped[int] = mapped_column(default=0)
    lock_token: Mapped[str | None] = mapped_column(String(64))
    task_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(String(2000))
    details: Mapped[Json] = mapped_column(JsonDoc, default=dict)
    started_at: Mapped[Timestamp]
    heartbeat_at: Mapped[Timestamp]
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class BatchRunChunk(Base):
    """One finished chunk of a fanned-out run; its unique row makes redelivery harmless."""

    __tablename__ = "batch_run_chunks"
    __table_args__ = (UniqueConstraint("batch_run_id", "chunk_no"),)

    id: Mapped[IntPk]
    batch_run_id: Mapped[int] = mapped_column(BigId, ForeignKey("batch_runs.id"))
    chunk_no: Mapped[int]
    processed: Mapped[int]
    created: Mapped[int]
    existing: Mapped[int]
    conflicts: Mapped[int]
    exceptions: Mapped[int]
    finished_at: Mapped[Timestamp]


class BatchRunChunkPlan(Base):
    """One planned chunk of a fanned-out run, as its message was first sent: a chunk message
    is run only when it names a planned chunk with these arguments (tasks.plan_check), and
    a re-plan (the stale-run sweep) re-sends these, never a plan made again."""

    __tablename__ = "batch_run_chunk_plans"

    batch_run_id: Mapped[int] = mapped_column(BigId, ForeignKey("batch_runs.id"), primary_key=True)
    chunk_no: Mapped[int] = mapped_column(primary_key=True)
    task: Mapped[str] = mapped_column(String(128))
    queue: Mapped[str | None] = mapped_column(String(128))
    kwargs: Mapped[Json] = mapped_column(JsonDoc)
    #: What the chunk must value, fixed when planned: per object type, runs of consecutive
    #: ids ([[first, last], ...]: core.plans.PlannedSet). None: a chunk planned before
    #: members were kept, which reads its range's status when it runs.
    members: Mapped[Json | None] = mapped_column(JsonDoc)


class SettlementPrice(ResultTable):
    __tablename__ = "settlement_prices"
    __table_args__ = (
        UniqueConstraint("symbol", "price_date", "source"),
        Index("ix_settlement_prices_symbol_price_date", "symbol", "price_date"),
    )

    symbol: Mapped[str] = mapped_column(String(32))
    price_date: Mapped[date]
    price: Mapped[Rate]
    currency: Mapped[str] = mapped_column(String(3))
    unit: Mapped[str] = mapped_column(String(16))
    price_type: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(64))
    confidence: Mapped[str] = mapped_column(String(16))
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    fetched_at: Mapped[Timestamp]
    file_name: Mapped[str | None] = mapped_column(String(512))
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(128))
    source_line: Mapped[int | None]
    #: A derived cross (source ecb_cross, XY = EURY / EURX): the stored rows of its numerator
    #: EURY and denominator EURX (null for a leg of EUR itself, which is 1); null on every price
    #: read from a source (migration 0007).
    numerator_price_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("settlement_prices.id"))
    denominator_price_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("settlement_prices.id"))


class PriceFile(Base):
    """A price file that was processed (or refused): a file is never read twice."""

    __tablename__ = "price_files"
    __table_args__ = (UniqueConstraint("source", "file_sha256"),)

    id: Mapped[IntPk]
    source: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(String(512))
    file_sha256: Mapped[Sha256]
    status: Mapped[str] = mapped_column(String(16))
    processed: Mapped[int]
    created: Mapped[int]
    existing: Mapped[int]
    conflicts: Mapped[int]
    rejected_rows: Mapped[int]
    reason: Mapped[str | None] = mapped_column(String(2000))
    batch_run_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("batch_runs.id"))
    processed_at: Mapped[Timestamp]


class PriceVariance(Base):
    """A D-1 price the pricing variance control flagged (core.price_checks; migration
    0016_price_verification): both prices, the variance and the threshold, once per price.
    `blocked`: the contracts it values wait for a decision (HEDGEOPS_PRICE_VARIANCE_BLOCKS)."""

    __tablename__ = "price_variances"

    id: Mapped[IntPk]
    price_id: Mapped[int] = mapped_column(BigId, ForeignKey("settlement_prices.id"), unique=True)
    verification_price_id: Mapped[int] = mapped_column(BigId, ForeignKey("settlement_prices.id"))
    symbol: Mapped[str] = mapped_column(String(32))
    price_date: Mapped[date]
    price: Mapped[Rate]
    verification_price: Mapped[Rate]
    variance: Mapped[Decimal] = mapped_column(ExactDecimal(24, 10))
    threshold: Mapped[Decimal] = mapped_column(ExactDecimal(24, 10))
    blocked: Mapped[bool]
    batch_run_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("batch_runs.id"))
    created_at: Mapped[Timestamp]


class PriceDecision(Base):
    """A person's decision on a flagged price, from a price-decisions file: accepted, or
    replaced by the price they supplied (a settlement price of source `manual`). Once per
    flagged price; never changed."""

    __tablename__ = "price_decisions"

    id: Mapped[IntPk]
    price_variance_id: Mapped[int] = mapped_column(BigId, ForeignKey("price_variances.id"), unique=True)
    decision: Mapped[str] = mapped_column(String(16))
    replacement_price_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("settlement_prices.id"))
    decided_by: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(500))
    file_name: Mapped[str] = mapped_column(String(512))
    file_sha256: Mapped[Sha256]
    decided_at: Mapped[Timestamp]


class MtmSnapshot(ResultTable):
    """Append-only (a PostgreSQL trigger refuses UPDATE and DELETE)."""

    __tablename__ = "mtm_snapshots"
    __table_args__ = (UniqueConstraint("object_type", "object_id", "as_of_date"),)

    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[int] = mapped_column(BigId)
    as_of_date: Mapped[date] = mapped_column(index=True)
    price_date: Mapped[date]
    price_id: Mapped[int] = mapped_column(BigId, ForeignKey("settlement_prices.id"))
    mtm_value: Mapped[Money]
    price_d1: Mapped[Rate]
    entry_price: Mapped[Rate]
    quantity_mt: Mapped[Quantity]
    currency: Mapped[str] = mapped_column(String(3))
    correlation_id: Mapped[str | None] = mapped_column(String(64))


class MtmException(ResultTable):
    __tablename__ = "mtm_exceptions"
    __table_args__ = (Index("ix_mtm_exceptions_as_of_date_object", "as_of_date", "object_type", "object_id"),)

    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[int] = mapped_column(BigId)
    as_of_date: Mapped[date]
    reason: Mapped[str] = mapped_column(String(32))
    details: Mapped[Json] = mapped_column(JsonDoc)


class CounterpartyExposure(ResultTable):
    """A counterparty's credit exposure of a date (key EXPOSURE:<counterparty_id>:<date>),
    in its limit currency; null exposure when a D-1 rate was missing (core.exposure)."""

    __tablename__ = "counterparty_exposures"
    __table_args__ = (UniqueConstraint("counterparty_id", "as_of_date"),)

    counterparty_id: Mapped[int] = mapped_column(BigId, ForeignKey("counterparties.id"))
    as_of_date: Mapped[date] = mapped_column(index=True)
    netting_set: Mapped[str | None] = mapped_column(String(64))
    contracts: Mapped[int]
    net_mtm: Mapped[Decimal | None] = mapped_column(ExactDecimal(24, 2))
    exposure: Mapped[Decimal | None] = mapped_column(ExactDecimal(24, 2))
    credit_limit: Mapped[Money]
    limit_currency: Mapped[str] = mapped_column(String(3))
    utilisation: Mapped[Decimal | None] = mapped_column(ExactDecimal(24, 4))
    headroom: Mapped[Decimal | None] = mapped_column(ExactDecimal(24, 2))
    breached: Mapped[bool]


class IdempotencyConflict(Base):
    """A result that came again with other values: both payloads, nothing overwritten."""

    __tablename__ = "idempotency_conflicts"
    __table_args__ = (UniqueConstraint("idempotency_key", "incoming_sha256"),)

    id: Mapped[IntPk]
    table_name: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(160), index=True)
    existing_sha256: Mapped[Sha256]
    incoming_sha256: Mapped[Sha256]
    existing_payload: Mapped[Json] = mapped_column(JsonDoc)
    incoming_payload: Mapped[Json] = mapped_column(JsonDoc)
    batch_run_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("batch_runs.id"))
    detected_at: Mapped[Timestamp]


class AuditEvent(Base):
    """Append-only (a PostgreSQL trigger refuses UPDATE and DELETE)."""

    __tablename__ = "audit_events"

    id: Mapped[IntPk]
    event_type: Mapped[str] = mapped_column(String(64), index=True)
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(160))
    batch_run_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("batch_runs.id"), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    details: Mapped[Json] = mapped_column(JsonDoc)
    occurred_at: Mapped[Timestamp]


APPEND_ONLY_TABLES = ("mtm_snapshots", "audit_events")
