"""Corrections (seed 004 Lock 1): a stored entry is never updated. When the entry recomputed
for its date differs, the correction is its reversal (every line negated, key
core.keys.fx_reversal_key(original), `reverses` naming it) plus the recomputed entry under
the next sequence of the original's key (`corrects` naming it), both dated `posting_date`:
the first open period's (core.hedging.periods.posting_date).

    fix = correction(stored, recomputed, posting_date=date(2026, 12, 1), sequence=2)
    # None when nothing differs; else fix.reversal and fix.replacement
    alone = reverse(stored, posting_date=date(2026, 12, 1), state_after=state)  # nothing replaces it

Both entries leave the replacement's state: the next date continues from it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from core import keys
from core.hedging.journal import JournalEntry, PostedState, Source


@dataclass(frozen=True, slots=True)
class Correction:
    reversal: JournalEntry
    replacement: JournalEntry


def same_content(stored: JournalEntry, recomputed: JournalEntry) -> bool:
    """The same figures for the same date: lines, state and figures (keys and dates aside)."""
    return (stored.kind, stored.relationship_id, stored.as_of, stored.lines, stored.state_after) == (
        recomputed.kind,
        recomputed.relationship_id,
        recomputed.as_of,
        recomputed.lines,
        recomputed.state_after,
    )


def correction(stored: JournalEntry, recomputed: JournalEntry, posting_date: date, sequence: int) -> Correction | None:
    """The reversal of `stored` and its replacement by `recomputed` (see the module docstring);
    `sequence`: the replacement's number among the entries of that kind, relationship and date
    (2 for the first correction). None when they do not differ."""
    if (stored.kind, stored.relationship_id, stored.as_of) != (
        recomputed.kind,
        recomputed.relationship_id,
        recomputed.as_of,
    ):
        raise ValueError(f"{recomputed.key} does not recompute {stored.key}: another kind, relationship or date")
    if sequence < 2:
        raise ValueError("a correction's replacement is sequence 2 or later")
    if same_content(stored, recomputed):
        return None
    reversal = reverse(stored, posting_date, recomputed.state_after)
    replacement = replace(
        recomputed,
        key=keys.fx_posting_key(stored.kind, stored.relationship_id, stored.as_of, sequence),
        posting_date=posting_date,
        corrects=stored.key,
        narrative=f"{recomputed.narrative}; replaces {stored.key}",
    )
    return Correction(reversal, replacement)


def reverse(stored: JournalEntry, posting_date: date, state_after: PostedState) -> JournalEntry:
    """The reversal of `stored` alone, dated `posting_date` (a correction's first half; by
    itself when the recomputed date has no entry any more, e.g. a release of a reserve now
    0), leaving `state_after`."""
    original = Source("journal_entry", stored.key, stored.sha256)
    return replace(
        stored,
        key=keys.fx_reversal_key(stored.key),
        posting_date=posting_date,
        lines=tuple(line.negated() for line in stored.lines),
        state_after=state_after,
        reverses=stored.key,
        corrects=None,
        narrative=f"reversal of {stored.key}",
        figures={"reversed": [original.as_payload()]},
    )
