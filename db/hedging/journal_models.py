"""Hedge accounting entries (issue 18): journal entries, accounting-period events, the
"no longer expected" records, and the posting step's exceptions. Appended, never changed
(PostgreSQL triggers refuse UPDATE, DELETE and TRUNCATE: migration 0008).

A journal entry is one result of the write path with its lines in its payload: the entry
is the unit that is balanced, keyed (FX_REVALUATION-<relationship>-<D>), hashed and
compared on a rerun, so its lines are never written, compared or corrected apart from it;
a GL export reads the lines from the payload. A period's state is derived, like a
designation's current version: its latest event (closed or reopened), no event meaning
open; a stored status column would have to change on an append-only row.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, BigId, IntPk, JsonDoc, ResultTable, Sha256, Timestamp

Json = dict[str, Any]


class JournalEntry(ResultTable):
    """One balanced journal entry: a revaluation, an OCI release, or a correction's reversal
    or replacement (`reverses_key` names the entry it corrects). Lines in the payload."""

    __tablename__ = "journal_entries"
    __table_args__ = (
        Index("ix_journal_entries_relationship_id_posting_date", "relationship_id", "posting_date"),
        Index("ix_journal_entries_period", "period"),
    )

    #: Null only for a settlement of a contract never designated (migration 0018).
    relationship_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("hedge_relationships.id"))
    kind: Mapped[str] = mapped_column(String(32))
    #: The date the figures are of (D); a correction's is the original's.
    as_of_date: Mapped[date]
    #: The date it is booked on: D, or for a correction of a closed period the first day of the first open one.
    posting_date: Mapped[date]
    period: Mapped[str] = mapped_column(String(7))
    reverses_key: Mapped[str | None] = mapped_column(String(160))
    #: A settlement's contract (FX_SETTLEMENT; migration 0018); null on the other entries.
    contract_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("hedge_contracts.id"))


class PostingException(ResultTable):
    """A relationship in force at D that got no entry, and why (`postings_blocked`)."""

    __tablename__ = "posting_exceptions"

    relationship_id: Mapped[int] = mapped_column(BigId, ForeignKey("hedge_relationships.id"))
    as_of_date: Mapped[date] = mapped_column(index=True)
    reason: Mapped[str] = mapped_column(String(32))
    details: Mapped[Json] = mapped_column(JsonDoc)


class AccountingPeriodEvent(Base):
    """A period (a calendar month, `2026-11`) closed or reopened, by whom and why; a reopen
    names its second person. The period's state is its latest event's."""

    __tablename__ = "accounting_period_events"
    __table_args__ = (Index("ix_accounting_period_events_period_id", "period", "id"),)

    id: Mapped[IntPk]
    period: Mapped[str] = mapped_column(String(7))
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    second_actor: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(4000))
    occurred_at: Mapped[Timestamp]


class NoLongerExpected(Base):
    """A person's record that a relationship's hedged cash flows are no longer expected
    (IFRS 9 6.5.12(b)): the reserve is released at once on `effective_date`. One per
    relationship; loading the same record again is `existing`, another one is refused."""

    __tablename__ = "hedge_no_longer_expected"

    id: Mapped[IntPk]
    relationship_id: Mapped[int] = mapped_column(BigId, ForeignKey("hedge_relationships.id"), unique=True)
    effective_date: Mapped[date]
    recorded_by: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(4000))
    payload: Mapped[Json] = mapped_column(JsonDoc)
    payload_sha256: Mapped[Sha256]
    created_at: Mapped[Timestamp]


#: Refused UPDATE, DELETE and TRUNCATE on PostgreSQL (migration 0008).
APPEND_ONLY_TABLES = ("journal_entries", "posting_exceptions", "accounting_period_events", "hedge_no_longer_expected")
