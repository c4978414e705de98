"""Designation dossiers (seed 004 §3.2.2.3): the designations file, its rules, and the
dossier a designation version locks: method parameters, documentation, authorisation."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.hedging.documents import Person, Ref, Text, control_problem, describe_entry, json_entries
from core.hedging.items import HedgedItem, HedgedItemKind
from core.hedging.methods import Band, LegTerms, Method, MethodParameters, OffsetBasis, critical_terms
from core.hedging.policy import HedgingPolicy
from core.rows import DEFAULT_WINDOW, DateWindow, PlainInt, PositiveDecimal, SaneDate, window_context
from core.values import Contract

Fraction = Annotated[Decimal, Field(gt=0, le=1)]


class HedgeType(StrEnum):
    CASH_FLOW = "cash_flow"
    FAIR_VALUE = "fair_value"
    NET_INVESTMENT = "net_investment"


class OciReleaseMethod(StrEnum):
    RECYCLE_TO_PNL = "recycle_to_pnl"
    BASIS_ADJUSTMENT = "basis_adjustment"
    NONE = "none"


def oci_release_method(hedge_type: HedgeType, kind: HedgedItemKind) -> OciReleaseMethod:
    """Seed 004: only cash-flow hedges have OCI; a forecast transaction's is a basis
    adjustment, a recognised receivable's or payable's is recycled to P&L; a net
    investment's stays until disposal."""
    if hedge_type is not HedgeType.CASH_FLOW:
        return OciReleaseMethod.NONE
    return OciReleaseMethod.BASIS_ADJUSTMENT if kind.forecast else OciReleaseMethod.RECYCLE_TO_PNL


class Documentation(BaseModel):
    """The IFRS 9 documentation every designation carries."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    risk_management_objective: Text
    hedging_strategy: Text
    hedged_item_description: Text
    hedge_instrument_description: Text
    economic_relationship: Text
    sources_of_ineffectiveness: Text


class BandRow(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    min: PositiveDecimal
    max: PositiveDecimal

    @model_validator(mode="after")
    def _ordered(self) -> BandRow:
        if not self.min <= 1 <= self.max or self.min == self.max:
            raise ValueError("band: min <= 1 <= max, min below max (e.g. 0.80 and 1.25)")
        return self


class DesignationRow(BaseModel):
    """One version of a designation, as the designations file gives it. Parameters left
    out take the policy's defaults at load and are then locked in the dossier."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    designation_ref: Ref
    version: Annotated[PlainInt, Field(ge=1)]
    contract_ref: Ref
    item_ref: Ref
    hedge_type: HedgeType
    designation_date: SaneDate
    method: Method
    hedge_ratio: PositiveDecimal = Decimal(1)
    offset_basis: OffsetBasis = OffsetBasis.CUMULATIVE
    band: BandRow | None = None
    materiality_floor: Annotated[Decimal, Field(ge=0)] | None = None
    regression_window: Annotated[PlainInt, Field(ge=3, le=1000)] | None = None
    min_observations: Annotated[PlainInt, Field(ge=3, le=1000)] | None = None
    r_squared_min: Fraction | None = None
    p_value_max: Fraction | None = None
    maturity_tolerance_days: Annotated[PlainInt, Field(ge=0, le=3660)] | None = None
    notional_tolerance: Annotated[Decimal, Field(ge=0, le=1)] | None = None
    hedged_item_rate: PositiveDecimal | None = None
    documentation: Documentation
    designated_by: Person
    approver_1: Person
    approver_2: Person
    amendment_reason: Text | None = None

    @model_validator(mode="after")
    def _authorised(self) -> DesignationRow:
        problems = authorisation_problems(self.designated_by, self.approver_1, self.approver_2)
        if self.version > 1 and not self.amendment_reason:
            problems.append("amendment_reason: an amendment (version 2 and later) says why")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def given_parameters(self) -> dict[str, Any]:
        """The method parameters this version gives, by name; None where it leaves one out."""
        given = {name: getattr(self, name) for name in MethodParameters.names()}
        return given | {"band": Band(self.band.min, self.band.max) if self.band else None}


def authorisation_problems(designated_by: str, approver_1: str, approver_2: str) -> list[str]:
    """Dual authorisation (seed 004 §4.1): two distinct approvers, neither the designator.
    People are compared without case and surrounding blanks."""
    who = [p.strip().casefold() for p in (designated_by, approver_1, approver_2)]
    problems = []
    if who[1] == who[2]:
        problems.append(f"approver_2: {approver_2} is also approver_1: two distinct approvers are required")
    for field, person in (("approver_1", approver_1), ("approver_2", approver_2)):
        if person.strip().casefold() == who[0]:
            problems.append(f"{field}: {person} designated this hedge and may not approve it")
    return problems


@dataclass(frozen=True)
class Dossier:
    """A designation version as locked: every parameter explicit."""

    row: DesignationRow
    params: MethodParameters
    hedged_item_rate: Decimal
    oci_release_method: OciReleaseMethod

    @property
    def payload(self) -> dict[str, Any]:
        """The business values of the version: what makes a reload `existing` or refused."""
        # The row's keys keep their places (a locked value replaces a left-out None); the band
        # and the OCI method come last: stored payloads and their hashes depend on it.
        return {
            **self.row.model_dump(exclude={"band"}),
            **self.params.as_payload(),
            "hedged_item_rate": self.hedged_item_rate,
            "oci_release_method": self.oci_release_method,
        }


def resolve(row: DesignationRow, policy: HedgingPolicy, instrument: Contract, item: HedgedItem) -> Dossier | list[str]:
    """The dossier `row` locks against these legs, or the problems that refuse it."""
    problems = leg_problems(row, instrument, item)
    rate = row.hedged_item_rate
    if rate is None and instrument.underlying == item.underlying:
        rate = instrument.entry_price
    if rate is None:
        problems.append("hedged_item_rate: required when the instrument is on another underlying than the item")
    params = MethodParameters.locked(policy, row.given_parameters())
    if params.min_observations > params.regression_window:
        problems.append(
            f"min_observations: {params.min_observations} is more than the regression window {params.regression_window}"
        )
    if problems or rate is None:
        return problems
    return Dossier(row, params, rate, oci_release_method(row.hedge_type, item.kind))


def leg_problems(row: DesignationRow, instrument: Contract, item: HedgedItem) -> list[str]:
    """The two legs must be comparable: valued in one currency, the designation inside the item's life."""
    problems = []
    if instrument.currency != item.currency:
        problems.append(
            f"the instrument is valued in {instrument.currency} and the item in {item.currency}: "
            "the legs must be valued in one currency"
        )
    if row.designation_date > item.exposure_date:
        problems.append(
            f"designation_date: {row.designation_date} is after the item's exposure date {item.exposure_date}"
        )
    return problems


def leg_terms(instrument: Contract, item: HedgedItem) -> tuple[LegTerms, LegTerms]:
    return (
        LegTerms(
            instrument.underlying,
            instrument.currency,
            instrument.quantity,
            instrument.maturity_date,
            instrument.side.sign,
        ),
        LegTerms(item.underlying, item.currency, item.amount, item.exposure_date, item.kind.side.sign),
    )


def prospective_test(dossier: Dossier, instrument: Contract, item: HedgedItem) -> dict[str, Any]:
    """The critical-terms check made at load, whatever the method: recorded, not refusing."""
    hedge, exposure = leg_terms(instrument, item)
    outcome, details = critical_terms(
        hedge,
        exposure,
        dossier.row.hedge_ratio,
        dossier.params.maturity_tolerance_days,
        dossier.params.notional_tolerance,
    )
    return {"method": Method.CRITICAL_TERMS.value, "outcome": outcome.value, **details}


def parse_designations(
    text: str, file: str, window: DateWindow = DEFAULT_WINDOW
) -> tuple[list[DesignationRow], list[str]]:
    """Every entry validated, its dates within `window`; (good rows, errors naming the
    entry). A (ref, version) given twice is an error."""
    rows: list[DesignationRow] = []
    errors: list[str] = []
    seen: set[tuple[str, int]] = set()
    for index, entry in enumerate(json_entries(text, file, "designations")):
        if (problem := control_problem(entry)) is not None:
            errors.append(f"{file}: designations[{index}]: {problem}")
            continue
        name = f"{entry.get('designation_ref')} v{entry.get('version')}" if isinstance(entry, dict) else "?"
        where = f"{file}: designations[{index}] ({name})"
        try:
            row = DesignationRow.model_validate(entry, context=window_context(window))
        except ValidationError as exc:
            errors.append(f"{where}: {describe_entry(exc)}")
            continue
        if (row.designation_ref, row.version) in seen:
            errors.append(f"{where}: given twice")
            continue
        seen.add((row.designation_ref, row.version))
        rows.append(row)
    return rows, errors
