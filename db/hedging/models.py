"""Hedge accounting tables: hedged items, designation dossiers, effectiveness results.

Everything here is written once and never changed (PostgreSQL triggers refuse UPDATE and
DELETE): a hedged item as loaded, a hedge relationship (which instrument hedges which
item, under which `designation_ref`), each version of its designation dossier, and each
effectiveness result. Which version is current is derived, never stored: the highest
version of a relationship (the view `hedge_designation_status` shows it as `is_current`).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.hedging.methods import Band, MethodParameters
from db.base import Base, BigId, ExactDecimal, IntPk, JsonDoc, Money, Quantity, Rate, ResultTable, Sha256, Timestamp

Json = dict[str, Any]


class HedgedItem(Base):
    """An exposure: a receivable or payable in a foreign currency, a forecast purchase or sale."""

    __tablename__ = "hedged_items"

    id: Mapped[IntPk]
    item_ref: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    underlying: Mapped[str] = mapped_column(String(32))
    amount: Mapped[Quantity]
    unit: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    exposure_date: Mapped[date]
    probability: Mapped[Decimal | None] = mapped_column(ExactDecimal(24, 6))
    description: Mapped[str] = mapped_column(String(4000))
    payload: Mapped[Json] = mapped_column(JsonDoc)
    payload_sha256: Mapped[Sha256]
    created_at: Mapped[Timestamp]


class HedgeRelationship(Base):
    """A designation's identity: its ref, its hedging instrument and its hedged item, fixed
    across versions. Its id is the `<designation>` of effectiveness keys."""

    __tablename__ = "hedge_relationships"

    id: Mapped[IntPk]
    designation_ref: Mapped[str] = mapped_column(String(64), unique=True)
    contract_id: Mapped[int] = mapped_column(BigId, ForeignKey("hedge_contracts.id"), index=True)
    hedged_item_id: Mapped[int] = mapped_column(BigId, ForeignKey("hedged_items.id"), index=True)
    created_at: Mapped[Timestamp]


class HedgeDesignation(Base):
    """One version of a designation dossier (seed 004 §3.2.2.3), immutable: an amendment
    is the next version. Every method parameter is locked here."""

    __tablename__ = "hedge_designations"
    __table_args__ = (UniqueConstraint("relationship_id", "version"),)

    id: Mapped[IntPk]
    relationship_id: Mapped[int] = mapped_column(BigId, ForeignKey("hedge_relationships.id"))
    version: Mapped[int]
    hedge_type: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(16))
    offset_basis: Mapped[str] = mapped_column(String(16))
    designation_date: Mapped[date]
    hedge_ratio: Mapped[Rate]
    band_min: Mapped[Rate]
    band_max: Mapped[Rate]
    materiality_floor: Mapped[Money]
    regression_window: Mapped[int]
    min_observations: Mapped[int]
    r_squared_min: Mapped[Rate]
    p_value_max: Mapped[Rate]
    maturity_tolerance_days: Mapped[int]
    notional_tolerance: Mapped[Rate]
    hedged_item_rate: Mapped[Rate]
    oci_release_method: Mapped[str] = mapped_column(String(32))
    designated_by: Mapped[str] = mapped_column(String(64))
    approver_1: Mapped[str] = mapped_column(String(64))
    approver_2: Mapped[str] = mapped_column(String(64))
    amendment_reason: Mapped[str | None] = mapped_column(String(4000))
    documentation: Mapped[Json] = mapped_column(JsonDoc)
    #: The instrument and the item as they were at designation (seed: designationDateSnapshot).
    snapshot: Mapped[Json] = mapped_column(JsonDoc)
    #: The critical-terms check made at load.
    prospective_test: Mapped[Json] = mapped_column(JsonDoc)
    payload: Mapped[Json] = mapped_column(JsonDoc)
    payload_sha256: Mapped[Sha256]
    created_at: Mapped[Timestamp]

    @property
    def params(self) -> MethodParameters:
        """The method parameters this version locks, read back from their columns."""
        return MethodParameters(
            Band(self.band_min, self.band_max),
            self.materiality_floor,
            self.regression_window,
            self.min_observations,
            self.r_squared_min,
            self.p_value_max,
            self.maturity_tolerance_days,
            self.notional_tolerance,
        )

    @staticmethod
    def params_columns(params: MethodParameters) -> dict[str, Any]:
        """The columns that lock `params` (the inverse of `params`): the band as its two ends."""
        by_name = params.as_payload()
        band = by_name.pop("band")
        return {"band_min": band["min"], "band_max": band["max"], **by_name}


class EffectivenessResult(ResultTable):
    """One retrospective test: key EFF:<designation>:<version>:<date>; appended, never changed."""

    __tablename__ = "effectiveness_results"
    __table_args__ = (Index("ix_effectiveness_results_relationship_id_as_of_date", "relationship_id", "as_of_date"),)

    relationship_id: Mapped[int] = mapped_column(BigId, ForeignKey("hedge_relationships.id"))
    designation_id: Mapped[int] = mapped_column(BigId, ForeignKey("hedge_designations.id"))
    version: Mapped[int]
    as_of_date: Mapped[date] = mapped_column(index=True)
    method: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(20))
    ratio: Mapped[Decimal | None] = mapped_column(ExactDecimal(24, 6))
    slope: Mapped[Decimal | None] = mapped_column(ExactDecimal(24, 6))
    r_squared: Mapped[Decimal | None] = mapped_column(ExactDecimal(24, 6))
    p_value: Mapped[Decimal | None] = mapped_column(ExactDecimal(28, 22))  # 6 significant digits: 9.9e-8 is not 0
    n_observations: Mapped[int | None]
    details: Mapped[Json] = mapped_column(JsonDoc)


#: Refused UPDATE and DELETE on PostgreSQL (migration 0004).
IMMUTABLE_TABLES = ("hedged_items", "hedge_relationships", "hedge_designations", "effectiveness_results")
