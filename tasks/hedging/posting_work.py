"""The entries of one date for a set of relationships, computed from the stored snapshots:
what the postings chunk writes and what `verify` compares with the stored entries. Reads
through db.hedging.journals; computes with core's rules (core.hedging.posting_day)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from core.hedging.accounts import ChartOfAccounts
from core.hedging.journal import JournalEntry, PostedState, Source
from core.hedging.posting_day import Stored, entries_of_day
from core.hedging.postings import FunctionalRate, LegMark, PostingTerms, Regime, Revaluation, regime_on, revaluation
from core.hedging.releases import NoLongerExpected, no_longer_expected_release, reserve_release
from core.values import ObjectType
from db.hedging.designation_ends import End, ends
from db.hedging.expectations import no_longer_expected
from db.hedging.journals import (
    Mark,
    Subject,
    effectiveness_keys,
    marks,
    next_posted,
    previous_states,
    stored_entries,
    subjects,
)


@dataclass(frozen=True, slots=True)
class Book:
    """What entries post with: the chart of accounts and the functional currency (None: none)."""

    chart: ChartOfAccounts
    functional_currency: str | None = None


@dataclass(slots=True)
class Day:
    """The computed entries per relationship, why others got none, and the stored entries."""

    entries: dict[int, list[JournalEntry]] = field(default_factory=dict)
    blocked: dict[int, str] = field(default_factory=dict)
    stored: dict[int, dict[tuple[str, date], Stored]] = field(default_factory=dict)
    #: Per relationship with entries stored after the day: the next date posted (its entries
    #: start from this day's state once it is posted: tasks.hedging.postings recomputes them).
    later: dict[int, date] = field(default_factory=dict)
    #: Per relationship: the designation version posted (its row id).
    versions: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Inputs:
    on_day: dict[tuple[int, date], Mark]
    items_on_day: dict[tuple[int, date], Mark]
    previous: dict[int, PostedState]
    later: dict[int, date]
    effectiveness: dict[int, str]
    decisions: dict[int, NoLongerExpected]
    #: Per relationship de-designated or re-designated since (db.hedging.designation_ends).
    ends: dict[int, End] = field(default_factory=dict)
    #: Per re-designated relationship: the state its predecessor left (the derivative carried).
    handed: dict[int, PostedState] = field(default_factory=dict)


def compute_day(session: Session, book: Book, version_ids: Sequence[int], day: date) -> Day:
    """Every relationship of these designation versions on `day`: its entries, or why none."""
    found = subjects(session, version_ids)
    inputs = _read(session, found, day)
    out = Day(stored=stored_entries(session, [s.relationship_id for s in found], _days(inputs, day)))
    out.versions = {s.relationship_id: s.designation_id for s in found}
    out.later = {rid: d for rid, d in inputs.later.items() if rid in out.versions}
    for subject in found:
        try:
            entries = _entries(book, subject, inputs, day)
        except ValueError as exc:  # core's PostingInputError and the rules' refusals
            out.blocked[subject.relationship_id] = str(exc)
            continue
        if isinstance(entries, str):
            out.blocked[subject.relationship_id] = entries
        else:
            out.entries[subject.relationship_id] = entries
    return out


def _read(session: Session, found: Sequence[Subject], day: date) -> Inputs:
    rids = [s.relationship_id for s in found]
    days = {day} | {s.designation_date for s in found}
    records = no_longer_expected(session, rids)
    found_ends = ends(session, [(s.relationship_id, s.instrument_id) for s in found])
    return Inputs(
        marks(session, ObjectType.HEDGE_CONTRACT, [s.instrument_id for s in found], days),
        marks(session, ObjectType.HEDGED_ITEM, [s.item_id for s in found], days),
        previous_states(session, rids, day),
        next_posted(session, rids, day),
        effectiveness_keys(session, found, day),
        {rid: NoLongerExpected(r.recorded_by, r.reason, r.effective_date) for rid, r in records.items()},
        found_ends,
        _handed(session, found, found_ends),
    )


def _handed(session: Session, found: Sequence[Subject], found_ends: dict[int, End]) -> dict[int, PostedState]:
    """The state each predecessor of these relationships (an earlier relationship of the same
    instrument) left before the new designation date: the derivative it carried."""
    instrument = {s.relationship_id: s.instrument_id for s in found}
    before = [(e.predecessor, instrument[rid]) for rid, e in found_ends.items() if e.predecessor is not None]
    earlier = ends(session, before)
    out = {}
    for rid, end in earlier.items():
        if end.successor is None or end.handed_over_on is None:
            continue
        state = previous_states(session, [rid], end.handed_over_on).get(rid)
        if state is not None:
            out[end.successor] = state
    return out


def _days(inputs: Inputs, day: date) -> set[date]:
    return {day} | {d.recorded_on for d in inputs.decisions.values()}


def _regime(s: Subject, inputs: Inputs, day: date) -> Regime | str:
    """Hedge up to the exposure date and the last day before the de-designation; P&L after."""
    end = inputs.ends.get(s.relationship_id)
    if end is None or not end.de_designated:
        return regime_on(day, s.exposure_date, None)
    if end.last_hedge_day is None:
        return "the hedging instrument is de-designated but no date of its status change is stored"
    return regime_on(day, s.exposure_date, end.last_hedge_day)


def _entries(book: Book, s: Subject, inputs: Inputs, day: date) -> list[JournalEntry] | str:
    h, i = inputs.on_day.get((s.instrument_id, day)), inputs.items_on_day.get((s.item_id, day))
    decision = inputs.decisions.get(s.relationship_id)
    end = inputs.ends.get(s.relationship_id)
    if end is not None and end.handed_over_on is not None and day >= end.handed_over_on:
        return _handed_over(book, s, inputs, day, decision)
    late = decision is not None and decision.recorded_on < day
    regime = _regime(s, inputs, day)
    if not isinstance(regime, Regime):  # a StrEnum is a str too: test the enum
        return regime
    if regime is Regime.PROFIT_OR_LOSS:
        return _outside_hedge(book, s, inputs, day, decision)
    if not late and (h is None or i is None):
        legs = [name for name, mark in (("hedging instrument", h), ("hedged item", i)) if mark is None]
        return f"no MTM of the {' and the '.join(legs)} on {day}"
    previous = inputs.previous.get(s.relationship_id) or _at_designation(s, inputs)
    if previous is None:
        return f"no MTM of both legs on the designation date {s.designation_date} (the baseline of the first entry)"
    terms = _terms(book, s)
    if late or h is None or i is None:
        return entries_of_day(terms, previous, _late_inputs(day), s.exposure_date, decision)
    revalue = Revaluation(
        day,
        day,
        h.leg,
        i.leg,
        effectiveness_key=inputs.effectiveness.get(s.relationship_id),
        rate=_rate(book, s, h),
        extra_sources=() if s.relationship_id in inputs.previous or day == s.designation_date else _baseline(s, inputs),
    )
    return entries_of_day(terms, previous, revalue, s.exposure_date, decision)


def _outside_hedge(
    book: Book, s: Subject, inputs: Inputs, day: date, decision: NoLongerExpected | None
) -> list[JournalEntry] | str:
    """The P&L regime (6.5.6, 6.5.7): only the instrument's MTM is read. Past the exposure
    date an instrument not valued on D posts nothing: the relationship ended then."""
    h = inputs.on_day.get((s.instrument_id, day))
    if h is None:
        return [] if day > s.exposure_date else f"no MTM of the hedging instrument on {day}"
    previous = inputs.previous.get(s.relationship_id) or _at_designation(s, inputs)
    if previous is None:
        return f"no MTM of both legs on the designation date {s.designation_date} (the baseline of the first entry)"
    revalue = Revaluation(day, day, h.leg, None, regime=Regime.PROFIT_OR_LOSS, rate=_rate(book, s, h))
    terms = _terms(book, s)
    if decision is None or decision.recorded_on >= day:
        return entries_of_day(terms, previous, revalue, s.exposure_date, decision)
    # recorded before D: its release (if the reserve is not released yet), then D's change
    release = entries_of_day(terms, previous, _late_inputs(day), s.exposure_date, decision)
    state = release[-1].state_after if release else previous
    return [*release, revaluation(terms, state, revalue)]


def _handed_over(
    book: Book, s: Subject, inputs: Inputs, day: date, decision: NoLongerExpected | None
) -> list[JournalEntry]:
    """Re-designated: the instrument is the next relationship's from its designation date;
    this one keeps its reserve while the hedged cash flows are expected (6.5.12(a)) and
    posts only its release: on the record that they are not (6.5.12(b)) or at the item's
    exposure date (6.5.11(d))."""
    previous = inputs.previous.get(s.relationship_id)
    if previous is None:
        return []
    terms = _terms(book, s)
    if decision is not None and decision.recorded_on <= day:
        release = no_longer_expected_release(terms, previous, decision, day)
    elif day == s.exposure_date:
        release = reserve_release(terms, previous, day, day)
    else:
        release = None
    return [] if release is None else [release]


def _terms(book: Book, s: Subject) -> PostingTerms:
    return PostingTerms(
        s.relationship_id,
        s.hedge_type,
        s.hedge_ratio,
        s.currency,
        book.functional_currency,
        s.oci_release_method,
        book.chart,
    )


def _late_inputs(day: date) -> Revaluation:
    """A late "no longer expected" posts only its release, on D: no leg is read."""
    return Revaluation(day, day, LegMark(Decimal(0), 0, ""), None)


def _at_designation(s: Subject, inputs: Inputs) -> PostedState | None:
    """Before the first entry: the legs on the designation date; a re-designated instrument
    carried at what its previous relationship left (the first entry moves it to H, the part
    that is not A's change in P&L)."""
    h = inputs.on_day.get((s.instrument_id, s.designation_date))
    i = inputs.items_on_day.get((s.item_id, s.designation_date))
    if h is None or i is None:
        return None
    start = PostedState.at_designation(s.designation_date, h.leg.mtm, i.leg.mtm)
    if (handed := inputs.handed.get(s.relationship_id)) is None:
        return start
    carried = {"derivative": handed.derivative, "derivative_functional": handed.derivative_functional}
    return PostedState(**(start.as_payload() | carried))


def _baseline(s: Subject, inputs: Inputs) -> tuple[Source, ...]:
    """A first entry names the designation date's snapshots it measures from."""
    h = inputs.on_day[(s.instrument_id, s.designation_date)]
    i = inputs.items_on_day[(s.item_id, s.designation_date)]
    return (h.leg.source, i.leg.source)


def _rate(book: Book, s: Subject, h: Mark) -> FunctionalRate | None:
    rate = h.payload.get("functional_rate")
    if book.functional_currency is None or rate is None:
        return None
    return FunctionalRate.of_snapshot(s.currency, h.payload.get("functional_rate_symbol"), Decimal(str(rate)))
