"""The reserve reclassified (IFRS 9 6.5.11(d), 6.5.12): at the hedged item's exposure date
by the dossier's `oci_release_method`, or at once when a person records that the hedged
cash flows are no longer expected.

    release = reserve_release(terms, state, exposure_date, posting_date)   # None: nothing moves
    nle = no_longer_expected_release(terms, state, NoLongerExpected("alice", "order cancelled",
                                     date(2026, 12, 3)), posting_date)

- `recycle_to_pnl`: the reserve to P&L (FX gain/loss), one entry (6.5.11(d)(ii)).
- `basis_adjustment`: the reserve into the cost of the non-financial item (the inventory
  basis-adjustment account), not through OCI (6.5.11(d)(i)).
- `none`: it stays (a net investment hedge's translation reserve: until disposal, never by
  the worker).
- No longer expected (6.5.12(b)): the reserve to P&L whatever the method, dated the day
  the person recorded it.
A zero reserve moves nothing: no entry. Each entry leaves the state with a reserve of 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from core import keys
from core.hedging.accounts import AccountRole
from core.hedging.dossier import HedgeType, OciReleaseMethod
from core.hedging.journal import EntryKind, JournalEntry, PostedState, Source
from core.hedging.postings import ZERO, Draft, PostingTerms, finish


@dataclass(frozen=True, slots=True)
class NoLongerExpected:
    """A person's record that the hedged cash flows are no longer expected: who, why, when."""

    recorded_by: str
    reason: str
    recorded_on: date

    def __post_init__(self) -> None:
        if not self.recorded_by.strip() or not self.reason.strip():
            raise ValueError("no longer expected: who recorded it and why are both required")

    @property
    def source(self) -> Source:
        return Source("no_longer_expected", f"{self.recorded_by.strip()} on {self.recorded_on}: {self.reason.strip()}")


def reserve_release(
    terms: PostingTerms, state: PostedState, as_of: date, posting_date: date, sources: tuple[Source, ...] = ()
) -> JournalEntry | None:
    """The reclassification at the exposure date `as_of` by terms.oci_release_method, from
    the state after that date's revaluation; None for `none`, a fair value hedge, or no reserve."""
    method = terms.oci_release_method
    if method is OciReleaseMethod.NONE or terms.hedge_type is not HedgeType.CASH_FLOW:
        return None
    target = (
        AccountRole.FX_GAIN_LOSS
        if method is OciReleaseMethod.RECYCLE_TO_PNL
        else AccountRole.INVENTORY_BASIS_ADJUSTMENT
    )
    return _release(terms, state, EntryKind.OCI_RELEASE, target, as_of, posting_date, sources, method.value)


def no_longer_expected_release(
    terms: PostingTerms, state: PostedState, decision: NoLongerExpected, posting_date: date
) -> JournalEntry | None:
    """The whole reserve to P&L on the day recorded (6.5.12(b)); None when there is none.
    A net investment hedge's translation reserve is not released this way (6.5.14: on disposal)."""
    if terms.hedge_type is HedgeType.NET_INVESTMENT:
        raise ValueError(
            f"relationship {terms.relationship_id}: a net investment hedge's translation reserve "
            "is reclassified on disposal of the foreign operation, not by the worker"
        )
    if terms.hedge_type is not HedgeType.CASH_FLOW:
        return None
    kind = EntryKind.NO_LONGER_EXPECTED
    sources = (decision.source,)
    return _release(terms, state, kind, AccountRole.FX_GAIN_LOSS, decision.recorded_on, posting_date, sources, "")


def _release(
    terms: PostingTerms,
    state: PostedState,
    kind: EntryKind,
    target: AccountRole,
    as_of: date,
    posting_date: date,
    sources: tuple[Source, ...],
    method: str,
) -> JournalEntry | None:
    """Dr reserve / Cr target by the reserve (credit balance positive), functional at the
    reserve's carried functional amount, not at today's rate."""
    if state.reserve == 0 and not state.reserve_functional:
        return None
    reserve_f = state.reserve_functional
    negated = None if reserve_f is None else -reserve_f
    drafts = [
        Draft(terms.reserve_role, state.reserve, sources, reserve_f),
        Draft(target, -state.reserve, sources, negated),
    ]
    emptied = {"as_of": as_of, "reserve": ZERO} | ({} if reserve_f is None else {"reserve_functional": ZERO})
    after = PostedState(**(state.as_payload() | emptied))
    return JournalEntry(
        keys.fx_posting_key(kind, terms.relationship_id, as_of),
        kind,
        terms.relationship_id,
        terms.hedge_type,
        as_of,
        posting_date,
        terms.currency,
        terms.functional_currency,
        finish(terms, drafts),
        after,
        narrative=f"reserve reclassified ({method or 'no longer expected'}) to {target.value}",
        figures={"reserve": state.reserve, "reserve_functional": reserve_f, "method": method or "no_longer_expected"},
    )
