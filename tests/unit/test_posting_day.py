"""What the postings job does with each computed entry against what is stored and the
closed periods (core.hedging.posting_day), as a table of cases; and a stored entry read back
from its canonical payload."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from core.canonical import canonical_form
from core.hedging.accounts import DEFAULT_CHART
from core.hedging.corrections import same_content
from core.hedging.dossier import HedgeType, OciReleaseMethod
from core.hedging.journal import JournalEntry, PostedState
from core.hedging.posting_day import Stored, decide, entries_of_day
from core.hedging.postings import LegMark, PostingTerms, Revaluation
from core.hedging.releases import NoLongerExpected

D = Decimal
DESIGNATED, NOV, DEC = date(2026, 8, 31), date(2026, 11, 30), date(2026, 12, 31)
TERMS = PostingTerms(17, HedgeType.CASH_FLOW, D(1), "USD", None, OciReleaseMethod.RECYCLE_TO_PNL, DEFAULT_CHART)
START = PostedState.at_designation(DESIGNATED, D(0), D(0))


def entry(h: str, i: str, day: date = NOV) -> JournalEntry:
    inputs = Revaluation(day, day, LegMark(D(h), 1, "sha-h"), LegMark(D(i), 2, "sha-i"))
    [only] = entries_of_day(TERMS, START, inputs, exposure_date=DEC)
    return only


# H = 20,000, I = -19,600: A = 20,000, B = -19,600: reserve 19,600 (Cr), ineffectiveness 400 (Cr).
POSTED = entry("20000", "-19600")
OTHER = entry("20000", "-19000")  # the item's MTM backfilled otherwise: reserve 19,000


@pytest.mark.parametrize(
    ("stored", "closed", "written", "existing", "refused"),
    [
        (None, set(), ["FX_REVALUATION-17-2026-11-30"], 0, []),
        (
            None,
            {"2026-11"},
            [],
            0,
            [
                "FX_REVALUATION-17-2026-11-30: period 2026-11 is closed: an entry dated in it is refused "
                "(seed 004 Lock 1)"
            ],
        ),
        (POSTED, set(), [], 1, []),
        (POSTED, {"2026-11"}, [], 1, []),
        (OTHER, set(), ["FX_REVALUATION-17-2026-11-30"], 0, []),  # under the stored key: the write path's conflict
        (OTHER, {"2026-11"}, ["FX_REVERSAL-FX_REVALUATION-17-2026-11-30", "FX_REVALUATION-17-2026-11-30-2"], 0, []),
        (
            OTHER,
            {"2026-11", "2026-12"},
            ["FX_REVERSAL-FX_REVALUATION-17-2026-11-30", "FX_REVALUATION-17-2026-11-30-2"],
            0,
            [],
        ),
    ],
)
def test_decide(
    stored: JournalEntry | None, closed: set[str], written: list[str], existing: int, refused: list[str]
) -> None:
    found = {} if stored is None else {("FX_REVALUATION", NOV): Stored(stored, 1)}
    decision = decide([POSTED], found, closed)
    assert ([e.key for e in decision.write], decision.existing, decision.refused) == (written, existing, refused)


def test_a_correction_posts_on_the_first_day_of_the_first_open_period() -> None:
    decision = decide([POSTED], {("FX_REVALUATION", NOV): Stored(OTHER, 1)}, {"2026-11", "2026-12"})
    reversal, replacement = decision.write
    assert (reversal.posting_date, reversal.reverses) == (date(2027, 1, 1), "FX_REVALUATION-17-2026-11-30")
    assert (replacement.posting_date, replacement.corrects) == (date(2027, 1, 1), "FX_REVALUATION-17-2026-11-30")
    # the reversal negates what was posted (reserve 19,000 Cr -> Dr), the replacement posts the new figures
    assert reversal.total(replacement.lines[1].role) == -OTHER.total(replacement.lines[1].role)
    assert decision.corrected == ["FX_REVALUATION-17-2026-11-30"]


def test_a_conflict_in_an_open_period_keeps_the_stored_key_and_date() -> None:
    [again] = decide([OTHER], {("FX_REVALUATION", NOV): Stored(POSTED, 1)}, set()).write
    assert (again.key, again.posting_date, again.sha256 != POSTED.sha256) == (POSTED.key, NOV, True)


def test_a_stored_entry_reads_back_from_its_canonical_payload() -> None:
    stored, _text, sha = canonical_form(POSTED.payload)
    back = JournalEntry.from_payload(stored)
    assert same_content(back, POSTED) and back.sha256 == sha == POSTED.sha256


def test_the_exposure_date_adds_the_release_and_a_late_record_only_its_release() -> None:
    on_exposure = Revaluation(DEC, DEC, LegMark(D("20000"), 1, "h"), LegMark(D("-19600"), 2, "i"))
    assert [e.kind.value for e in entries_of_day(TERMS, START, on_exposure, DEC)] == [
        "FX_REVALUATION",
        "FX_OCI_RELEASE",
    ]
    state = POSTED.state_after  # reserve 19,600 carried
    late = NoLongerExpected("dana", "order cancelled", date(2026, 11, 10))
    [release] = entries_of_day(TERMS, state, on_exposure, DEC, late)
    assert (release.key, release.as_of, release.posting_date) == (
        "FX_OCI_NO_LONGER_EXPECTED-17-2026-11-10",
        date(2026, 11, 10),
        DEC,
    )
