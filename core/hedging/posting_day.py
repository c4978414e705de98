"""One relationship's entries for one date, and what becomes of each against what is stored
(seed 004 Lock 1 and Lock 3). Pure: the stored entries and closed periods are arguments.

The entries of D (core's rules make each): the revaluation from the state the previous
entry left; at the item's exposure date the reserve's release by the dossier's
`oci_release_method`; on the day a person recorded that the hedged cash flows are no
longer expected, the release of the whole reserve to P&L (a record dated before D, loaded
late, releases with D's run and posts no revaluation of D: hedge accounting stopped then).

Against the stored entry of the same kind, relationship and date (the latest correction
of it, if any):

- none stored: written, unless D's period is closed: refused with the reason (an entry is
  never booked into a closed period, nor silently moved out of it);
- stored with the same content: `existing`;
- stored with other content, its period open: written under its key, so the write path
  records the conflict and keeps the stored entry (never a second entry);
- stored with other content, its period closed: corrected: the stored entry's reversal plus
  the recomputed entry, both on the first day of the first open period, naming it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from core.hedging.corrections import correction, same_content
from core.hedging.journal import JournalEntry, PostedState
from core.hedging.periods import period_of, posting_date
from core.hedging.postings import PostingTerms, Revaluation, revaluation
from core.hedging.releases import NoLongerExpected, no_longer_expected_release, reserve_release


def entries_of_day(
    terms: PostingTerms,
    previous: PostedState,
    inputs: Revaluation,
    exposure_date: date,
    decision: NoLongerExpected | None = None,
) -> list[JournalEntry]:
    """The entries of `inputs.as_of`, in the order they post (see the module docstring)."""
    day = inputs.as_of
    if decision is not None and decision.recorded_on < day:
        release = no_longer_expected_release(terms, previous, decision, inputs.posting_date)
        return [] if release is None else [release]
    entries = [revaluation(terms, previous, inputs)]
    state = entries[-1].state_after
    if decision is not None and decision.recorded_on == day:
        release = no_longer_expected_release(terms, state, decision, inputs.posting_date)
    elif day == exposure_date:
        sources = (inputs.instrument.source, *((inputs.item.source,) if inputs.item else ()))
        release = reserve_release(terms, state, day, inputs.posting_date, sources)
    else:
        release = None
    return entries if release is None else [*entries, release]


@dataclass(frozen=True, slots=True)
class Stored:
    """A stored entry (its latest correction, for a kind, relationship and date) and how many
    non-reversal entries that date has (the next correction is one more)."""

    entry: JournalEntry
    sequence: int


@dataclass(slots=True)
class Decision:
    """What to write (in order), how many computed entries are already stored as they are,
    and why entries were refused."""

    write: list[JournalEntry] = field(default_factory=list)
    existing: int = 0
    refused: list[str] = field(default_factory=list)
    corrected: list[str] = field(default_factory=list)


def decide(
    computed: Sequence[JournalEntry], stored: Mapping[tuple[str, date], Stored], closed: Collection[str]
) -> Decision:
    """What becomes of each computed entry of one relationship (`stored` by (kind, as_of))."""
    out = Decision()
    for entry in computed:
        found = stored.get((entry.kind.value, entry.as_of))
        if found is None:
            if period_of(entry.posting_date) in closed:
                out.refused.append(f"{entry.key}: {refused_reason(period_of(entry.posting_date))}")
            else:
                out.write.append(entry)
        elif same_content(found.entry, entry):
            out.existing += 1
        elif period_of(found.entry.posting_date) not in closed:
            out.write.append(_as_stored(found.entry, entry))
        else:
            fix = correction(found.entry, entry, posting_date(entry.as_of, closed), found.sequence + 1)
            if fix is not None:
                out.write += [fix.reversal, fix.replacement]
                out.corrected.append(found.entry.key)
    return out


def refused_reason(period: str) -> str:
    return f"period {period} is closed: an entry dated in it is refused (seed 004 Lock 1)"


def _as_stored(stored: JournalEntry, recomputed: JournalEntry) -> JournalEntry:
    """The recomputed entry under the stored one's key and dates: the write path then tells
    `conflict` and keeps the stored one."""
    return replace(recomputed, key=stored.key, posting_date=stored.posting_date, corrects=stored.corrects)
