"""Hedge accounting revaluation entries (IFRS 9 6.5.8, 6.5.11, 6.5.13): per relationship and
date, one entry from the legs' MTM on the date and the state its previous entry left.

    terms = PostingTerms(17, HedgeType.CASH_FLOW, Decimal(1), "USD", None,
                         OciReleaseMethod.RECYCLE_TO_PNL, DEFAULT_CHART)
    start = PostedState.at_designation(date(2026, 8, 31), h_on_designation, i_on_designation)
    entry = revaluation(terms, start, Revaluation(date(2026, 9, 30), date(2026, 9, 30), h_mark, i_mark))
    later = revaluation(terms, entry.state_after, ...)   # the next date, from the state left

Notation: H, I the legs' MTM on D (the instrument, the hedged item's hypothetical
derivative); A = the instrument's cumulative change since designation; B = the item's, at
the hedge ratio as the dollar-offset test scales it: each period adds ratio x (I(D) - I at
the previous posting), with the ratio of the version in force, so an amendment continues A,
B and the reserve (rebalancing, 6.5.5) and within one version B = ratio x (I(D) - I(des)).
B is kept unrounded; amounts posted are money, half-even to the cent, in MONEY_CONTEXT.

- Cash flow (6.5.11(a)-(c)) and net investment (6.5.13): when A and B have opposite signs,
  reserve = sign(A) x min(|A|, |B|), else 0; OCI movement = reserve - previous reserve;
  ineffectiveness = (A - previous A) - OCI movement, to P&L. The reserve is the cash flow
  hedge reserve, or the translation reserve (never released by the worker).
- Fair value (6.5.8): the instrument's change of the period to P&L (hedge ineffectiveness
  account), the item's change of the period (rounded cumulative B less the previous) as a
  basis adjustment of its carrying amount against the same account: the net is the
  ineffectiveness.
- After de-designation or the item's exposure date (Regime.PROFIT_OR_LOSS, 6.5.6/6.5.7): the
  instrument's change goes to FX gain/loss; A, B and the reserve stay (6.5.12(a)).

The derivative: the instrument is carried at its full MTM H. Each entry moves the carrying
amount from the previous one (0 before the first entry) to H, split by sign: max(H, 0) on
the derivative asset, max(-H, 0) on the derivative liability. When H changes sign between
two postings the one entry closes the old side and opens the other (e.g. asset 300 ->
liability 200: Cr asset 300, Cr liability 200), so the balance sheet always shows H on the
right side and the entry still balances. The part of that movement that is not A's change
(the MTM the instrument already had on the designation date, recognised by the first entry)
is FX gain/loss: a derivative outside a hedge is at fair value through P&L.

Functional currency: the derivative lines move its carrying amount to the snapshot's
functional MTM; every other line is its amount at D's rate (FunctionalRate, as
core.hedging.functional converts); what is left (translation of the carrying amount, and
cents of rounding) is one FX gain/loss line with no transaction-currency amount.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext
from enum import StrEnum

from core import keys
from core.hedging.accounts import AccountRole, ChartOfAccounts
from core.hedging.dossier import HedgeType, OciReleaseMethod
from core.hedging.journal import EntryKind, JournalEntry, JournalLine, PostedState, Source
from core.money import MONEY_CONTEXT, money

R = AccountRole
ZERO = Decimal(0)


class PostingInputError(ValueError):
    """Inputs a posting cannot be made from (a leg missing, no functional figure)."""


class Regime(StrEnum):
    HEDGE = "hedge"  # the designation is in force on D
    PROFIT_OR_LOSS = "profit_or_loss"  # de-designated, or past the exposure date


def regime_on(as_of: date, exposure_date: date, de_designated_on: date | None) -> Regime:
    """Hedge accounting up to and including the de-designation date and the exposure date
    (that day's entry still measures the hedge); P&L after either."""
    if as_of > exposure_date or (de_designated_on is not None and as_of > de_designated_on):
        return Regime.PROFIT_OR_LOSS
    return Regime.HEDGE


@dataclass(frozen=True, slots=True)
class LegMark:
    """One leg's MTM on a date, as its snapshot stores it (quote currency, and functional)."""

    mtm: Decimal
    snapshot_id: int
    payload_sha256: str
    functional_mtm: Decimal | None = None

    @property
    def source(self) -> Source:
        return Source("mtm_snapshot", str(self.snapshot_id), self.payload_sha256)


@dataclass(frozen=True, slots=True)
class FunctionalRate:
    """D's rate of the quote currency into the functional one, as the snapshot used it:
    `direct` (functional per 1 quote, the pair quote+functional: multiply) or not (the pair
    functional+quote: divide). money() of the result, half-even to the cent."""

    rate: Decimal
    direct: bool = True

    @classmethod
    def of_snapshot(cls, currency: str, symbol: str | None, rate: Decimal) -> FunctionalRate:
        """From a snapshot's functional_rate_symbol and functional_rate (no symbol: same currency)."""
        return cls(rate, symbol is None or symbol.startswith(currency))

    def convert(self, amount: Decimal) -> Decimal:
        with localcontext(MONEY_CONTEXT):
            return money(amount * self.rate if self.direct else amount / self.rate)


@dataclass(frozen=True, slots=True)
class PostingTerms:
    """What the entries of one relationship need of its current designation version."""

    relationship_id: int
    hedge_type: HedgeType
    hedge_ratio: Decimal  # the version in force on the date posted
    currency: str  # the legs' (quote) currency: the transaction currency
    functional_currency: str | None
    oci_release_method: OciReleaseMethod
    chart: ChartOfAccounts

    @property
    def accounts(self) -> Mapping[AccountRole, str]:
        return self.chart.codes[self.hedge_type]

    @property
    def reserve_role(self) -> AccountRole:
        return R.TRANSLATION_RESERVE if self.hedge_type is HedgeType.NET_INVESTMENT else R.CASH_FLOW_HEDGE_RESERVE


@dataclass(frozen=True, slots=True)
class Revaluation:
    """The inputs of one date: the legs' marks on D (the item's may be None outside a
    hedge), where it posts, the regime, D's effectiveness result and rate."""

    as_of: date
    posting_date: date
    instrument: LegMark
    item: LegMark | None
    regime: Regime = Regime.HEDGE
    effectiveness_key: str | None = None
    rate: FunctionalRate | None = None
    sequence: int = 1
    #: Named by every line as well: e.g. the designation date's snapshots on a first posting.
    extra_sources: tuple[Source, ...] = ()


@dataclass(frozen=True, slots=True)
class Draft:
    """A line before its account code and functional amount are known."""

    role: AccountRole
    amount: Decimal
    sources: tuple[Source, ...]
    functional: Decimal | None = None  # set for the derivative lines (the snapshots' figure)


def reserve_for(a: Decimal, b: Decimal) -> Decimal:
    """sign(A) x min(|A|, |B|) when A and B offset (opposite signs), else 0 (6.5.11(a))."""
    if a == 0 or b == 0 or (a > 0) == (b > 0):
        return ZERO
    with localcontext(MONEY_CONTEXT):
        return money(min(abs(a), abs(b)).copy_sign(a))


def revaluation(terms: PostingTerms, previous: PostedState, inputs: Revaluation) -> JournalEntry:
    """The entry of `inputs.as_of`, from the state `previous` left (see the module docstring)."""
    if inputs.regime is Regime.HEDGE and inputs.item is None:
        raise PostingInputError(f"relationship {terms.relationship_id}: no MTM of the hedged item on {inputs.as_of}")
    with localcontext(MONEY_CONTEXT):
        state, drafts, figures = _rules(terms, previous, inputs)
    drafts = [Draft(d.role, d.amount, d.sources + inputs.extra_sources, d.functional) for d in drafts]
    lines, derivative_f, reserve_f = _with_functional(terms, previous, inputs, drafts)
    state = _replace_functional(state, derivative_f, reserve_f)
    return JournalEntry(
        keys.fx_posting_key(EntryKind.REVALUATION, terms.relationship_id, inputs.as_of, inputs.sequence),
        EntryKind.REVALUATION,
        terms.relationship_id,
        terms.hedge_type,
        inputs.as_of,
        inputs.posting_date,
        terms.currency,
        terms.functional_currency,
        lines,
        state,
        narrative=f"{terms.hedge_type.value} hedge revaluation ({inputs.regime.value}) on {inputs.as_of}",
        figures=figures,
    )


Rules = tuple[PostedState, list[Draft], dict[str, object]]  # the state left, the lines, the figures


def _rules(terms: PostingTerms, previous: PostedState, inputs: Revaluation) -> Rules:
    h = inputs.instrument.mtm
    derivative = _derivative_drafts(previous.derivative, h, (inputs.instrument.source,))
    if inputs.regime is Regime.PROFIT_OR_LOSS or inputs.item is None:
        state = _state(previous, inputs, h, previous.item_mtm, previous.instrument_change, previous.item_change)
        drafts = [*derivative, Draft(R.FX_GAIN_LOSS, -(h - previous.derivative), (inputs.instrument.source,))]
        return state, drafts, {"regime": inputs.regime, "delta_mtm": h - previous.derivative}
    i = inputs.item.mtm
    a = previous.instrument_change + (h - previous.instrument_mtm)
    b = previous.item_change + terms.hedge_ratio * (i - previous.item_mtm)
    not_hedged = (h - previous.derivative) - (a - previous.instrument_change)
    drafts = [*derivative, Draft(R.FX_GAIN_LOSS, -not_hedged, (inputs.instrument.source,))]
    figures: dict[str, object] = {"regime": inputs.regime, "hedge_ratio": terms.hedge_ratio, "a": a, "b": b}
    state = _state(previous, inputs, h, i, a, b)
    rule = _fair_value if terms.hedge_type is HedgeType.FAIR_VALUE else _reserve
    state, more, more_figures = rule(
        terms, previous, state, (inputs.instrument.source, inputs.item.source), _eff(inputs)
    )
    return state, drafts + more, figures | more_figures


def _fair_value(
    terms: PostingTerms, previous: PostedState, state: PostedState, legs: tuple[Source, Source], eff: tuple[Source, ...]
) -> Rules:
    """6.5.8: ΔA to P&L; ΔB (cumulative B rounded, less the previous) adjusts the item against P&L."""
    delta_a = state.instrument_change - previous.instrument_change
    delta_b = money(state.item_change) - money(previous.item_change)
    drafts = [
        Draft(R.HEDGE_INEFFECTIVENESS, -delta_a, (*legs, *eff)),
        Draft(R.HEDGED_ITEM_BASIS_ADJUSTMENT, delta_b, (legs[1], *eff)),
        Draft(R.HEDGE_INEFFECTIVENESS, -delta_b, (legs[1], *eff)),
    ]
    state = _with(state, item_adjustment=previous.item_adjustment + delta_b)
    return state, drafts, {"item_adjustment": delta_b, "ineffectiveness": delta_a + delta_b}


def _reserve(
    terms: PostingTerms, previous: PostedState, state: PostedState, legs: tuple[Source, Source], eff: tuple[Source, ...]
) -> Rules:
    """6.5.11(a)-(c), 6.5.13: the reserve to sign(A) x min(|A|, |B|), the rest of ΔA to P&L."""
    delta_a = state.instrument_change - previous.instrument_change
    reserve = reserve_for(state.instrument_change, state.item_change)
    oci = reserve - previous.reserve
    sources = (*legs, *eff)
    drafts = [Draft(terms.reserve_role, -oci, sources), Draft(R.HEDGE_INEFFECTIVENESS, -(delta_a - oci), sources)]
    state = _with(state, reserve=reserve)
    return state, drafts, {"reserve": reserve, "oci_movement": oci, "ineffectiveness": delta_a - oci}


def _eff(inputs: Revaluation) -> tuple[Source, ...]:
    key = inputs.effectiveness_key
    return () if key is None else (Source("effectiveness_result", key),)


def _state(previous: PostedState, inputs: Revaluation, h: Decimal, i: Decimal, a: Decimal, b: Decimal) -> PostedState:
    return PostedState(inputs.as_of, h, i, a, b, previous.reserve, h, previous.item_adjustment)


def _with(state: PostedState, **changes: Decimal) -> PostedState:
    return PostedState(**(state.as_payload() | changes))


def _replace_functional(state: PostedState, derivative: Decimal | None, reserve: Decimal | None) -> PostedState:
    return PostedState(**(state.as_payload() | {"derivative_functional": derivative, "reserve_functional": reserve}))


def split(carrying: Decimal) -> tuple[Decimal, Decimal]:
    """A carrying amount as (asset, liability), both >= 0: one of them is 0."""
    return max(carrying, ZERO), max(-carrying, ZERO)


def _derivative_drafts(before: Decimal, after: Decimal, sources: tuple[Source, ...]) -> list[Draft]:
    (asset_0, liability_0), (asset_1, liability_1) = split(before), split(after)
    return [
        Draft(R.DERIVATIVE_ASSET, asset_1 - asset_0, sources),
        Draft(R.DERIVATIVE_LIABILITY, -(liability_1 - liability_0), sources),
    ]


def _with_functional(
    terms: PostingTerms, previous: PostedState, inputs: Revaluation, drafts: list[Draft]
) -> tuple[tuple[JournalLine, ...], Decimal | None, Decimal | None]:
    """The lines with account codes and functional amounts; the derivative's and the
    reserve's functional carrying amounts after them."""
    if terms.functional_currency is None:
        return finish(terms, drafts), None, None
    h_f, rate = inputs.instrument.functional_mtm, inputs.rate
    if h_f is None or rate is None:
        raise PostingInputError(
            f"relationship {terms.relationship_id}: no functional MTM or rate of the instrument on {inputs.as_of}"
        )
    derivative = _derivative_drafts(previous.derivative_functional or ZERO, h_f, ())
    converted = [Draft(d.role, d.amount, d.sources, rate.convert(d.amount)) for d in drafts[2:]]
    first = [Draft(d.role, d.amount, d.sources, f.amount) for d, f in zip(drafts[:2], derivative, strict=True)]
    lines = [*first, *converted]
    translation = -sum((d.functional or ZERO for d in lines), ZERO)
    lines.append(Draft(R.FX_GAIN_LOSS, ZERO, (inputs.instrument.source,), translation))
    oci = sum((d.functional or ZERO for d in converted if d.role is terms.reserve_role), ZERO)
    return finish(terms, lines), h_f, (previous.reserve_functional or ZERO) - oci


def finish(terms: PostingTerms, drafts: list[Draft]) -> tuple[JournalLine, ...]:
    """Account codes on the drafts; lines of nothing in either currency left out."""
    functional = terms.functional_currency is not None
    return tuple(
        JournalLine(terms.accounts[d.role], d.role, d.amount, d.functional if functional else None, d.sources)
        for d in drafts
        if d.amount != 0 or (functional and d.functional)
    )
