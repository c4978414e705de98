"""An MTM backfilled for a date before the last posted entry, through the postings job, on
SQLite and PostgreSQL (issue 18: "a backfilled MTM is a conflict and, once its period is
closed, a reversal in the next open period").

The hedge of tests/integration/test_postings.py: EUR 1,000,000 sold forward at 1.10 against
a EUR 980,000 receivable, designated 31 Aug 2026, spot proxy, DF = 1: H = -1,000,000 x
(S - 1.10), I = 980,000 x (S - 1.10); A = H - H(31 Aug) = H, B = I (ratio 1); reserve =
sign(A) x min(|A|, |B|) when A and B offset (IFRS 9 6.5.11(a)); the OCI movement is the
reserve's change (6.5.11(b)) and the rest of A's change is ineffectiveness (6.5.11(a)(ii),
(c)). Lines are by account, debit positive (1450/2450 derivative asset/liability, 3510 cash
flow hedge reserve, 7410 ineffectiveness). S: 1.12 on 30 Sep, 1.09 on 30 Oct, 1.08 on 30 Nov.

30 Oct is not valued at first (its nightly did not run): 30 Nov posts from 30 Sep. Then 30
Oct is valued and posted: 30 Nov's previous posting moved, so its entry is recomputed."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from core.hedging.period_lock import PeriodAction
from db.hedging.journal_models import JournalEntry
from db.hedging.periods import change_period
from db.models import IdempotencyConflict
from tasks.hedging.accounting import journals_report, reserve_report
from tasks.hedging.effectiveness import assess_hedge_effectiveness
from tasks.ports import Ports
from tasks.prices import fetch_settlement_prices
from tasks.valuation import compute_mtm_snapshots
from tasks.verify import verify_date
from tests.integration.test_postings import DESIGNATED, NOV, OCT, SEP, D, hedged, lines, nightly, postings

__all__ = ["hedged"]  # the fixture, used by name

NOV_FROM_SEP = {"1450": D(20000), "2450": D(20000), "3510": D(-39200), "7410": D(-800)}
NOV_FROM_OCT = {"1450": D(10000), "3510": D(-9800), "7410": D(-200)}


def close(rt: Ports, period: str) -> None:
    with rt.uow() as uow:
        change_period(uow.session, period, PeriodAction.CLOSE, actor="ann", second=None, reason="x", now=rt.clock())
        uow.commit()


def value(day: date) -> None:
    """The nightly's first three steps of `day` (prices, MTM, effectiveness), not its postings."""
    for task in (fetch_settlement_prices, compute_mtm_snapshots, assess_hedge_effectiveness):
        task.apply_async(kwargs={"as_of": day.isoformat()}).get()


def conflicts(rt: Ports) -> list[str]:
    with rt.uow() as uow:
        return list(uow.session.scalars(select(IdempotencyConflict.idempotency_key)))


def entries_of(rt: Ports, day: date) -> dict[str, tuple[str | None, date]]:
    with rt.uow() as uow:
        stmt = select(JournalEntry).where(JournalEntry.as_of_date == day)
        return {
            e.idempotency_key: (e.payload["corrects"] or e.reverses_key, e.posting_date)
            for e in uow.session.scalars(stmt)
        }


def skip_october(rt: Ports) -> None:
    for day in (DESIGNATED, SEP, NOV):
        assert nightly(rt, day)["status"] == "succeeded", day
    # 30 Nov from 30 Sep: H = -1,000,000 x (1.08 - 1.10) = 20,000, B = 980,000 x -0.02 = -19,600:
    # reserve 19,600 (6.5.11(a)), movement 19,600 - (-19,600) = 39,200 Cr (6.5.11(b)); A moved
    # 20,000 - (-20,000) = 40,000: ineffectiveness 40,000 - 39,200 = 800 Cr (6.5.11(a)(ii));
    # liability 20,000 closed (Dr), asset 20,000 opened (Dr).
    assert lines(rt, "FX_REVALUATION-1-2026-11-30") == NOV_FROM_SEP


class TestBackfilledDate:
    def test_posts_the_date_then_the_next_entry_is_a_conflict(self, hedged: Ports) -> None:
        skip_october(hedged)
        value(OCT)
        run = postings(hedged, OCT)
        assert run["status"] == "completed_with_conflicts"
        # 30 Oct from 30 Sep: H = 10,000, B = -9,800: reserve 9,800, movement 9,800 + 19,600 =
        # 29,400 Cr; A moved 30,000: 600 Cr; liability 20,000 closed, asset 10,000 opened.
        assert lines(hedged, "FX_REVALUATION-1-2026-10-30") == {
            "1450": D(10000),
            "2450": D(20000),
            "3510": D(-29400),
            "7410": D(-600),
        }
        # 30 Nov would now start from 30 Oct: reserve 19,600 - 9,800 = 9,800 Cr; A moved 10,000:
        # 200 Cr; asset 10,000 more. Its period is open: a conflict, the stored entry stays.
        assert conflicts(hedged) == ["FX_REVALUATION-1-2026-11-30"]
        assert lines(hedged, "FX_REVALUATION-1-2026-11-30") == NOV_FROM_SEP
        assert set(entries_of(hedged, NOV)) == {"FX_REVALUATION-1-2026-11-30"}
        [finding] = verify_date(NOV).findings
        assert (finding.snapshot_key, finding.problem) == ("FX_REVALUATION-1-2026-11-30", "recomputed_differs")
        assert finding.detail == (
            "stored [1450 20000, 2450 20000, 3510 -39200, 7410 -800], recomputed [1450 10000, 3510 -9800, 7410 -200]"
        )
        # The roll-forward shows it: Sep -19,600 + Oct 29,400 + Nov 39,200 = 49,000 booked, while
        # the state 30 Nov left carries 19,600: not reconciled until the correction.
        [nov] = reserve_report("2026-11")["relationships"]
        assert (nov["closing"], nov["carried"], nov["reconciled"]) == (D(49000), D(19600), False)
        again = postings(hedged, NOV)  # a rerun: the conflict again, never a second entry
        assert (again["counts"]["created"], again["counts"]["conflicts"]) == (0, 1)
        assert set(entries_of(hedged, NOV)) == {"FX_REVALUATION-1-2026-11-30"}

    def test_once_closed_the_next_entry_is_reversed_and_replaced(self, hedged: Ports) -> None:
        skip_october(hedged)
        value(OCT)
        postings(hedged, OCT)
        close(hedged, "2026-10")
        close(hedged, "2026-11")
        fixed = postings(hedged, NOV)
        assert (fixed["status"], fixed["counts"]["created"]) == ("succeeded", 2)
        # On 1 Dec, the first open day: the reversal of 30 Nov's entry (every line negated) and
        # the entry recomputed from 30 Oct under the next sequence, naming the original.
        original = "FX_REVALUATION-1-2026-11-30"
        assert entries_of(hedged, NOV) == {
            original: (None, NOV),
            f"FX_REVERSAL-{original}": (original, date(2026, 12, 1)),
            f"{original}-2": (original, date(2026, 12, 1)),
        }
        assert lines(hedged, f"FX_REVERSAL-{original}") == {k: -v for k, v in NOV_FROM_SEP.items()}
        assert lines(hedged, f"{original}-2") == NOV_FROM_OCT
        assert (verify_date(OCT).findings, verify_date(NOV).findings) == ([], [])
        # December's roll-forward: opening 49,000 (Sep -19,600, Oct 29,400, Nov 39,200); the
        # reversal -39,200 and the new entry 9,800 in "recognised" (their kind's column):
        # closing 49,000 - 29,400 = 19,600 = min(20,000, 19,600), the reserve 30 Nov carries.
        [dec] = reserve_report("2026-12")["relationships"]
        assert (dec["opening"], dec["recognised"], dec["closing"]) == (D(49000), D(-29400), D(19600))
        assert (dec["carried"], dec["reconciled"]) == (D(19600), True)
        # the derivative: 20,000 Cr Sep, 30,000 Dr Oct, 40,000 Dr Nov, 40,000 Cr and 10,000 Dr
        # on 1 Dec: 20,000 Dr = H(30 Nov), an asset.
        report = journals_report("2026-12")
        assert report["balanced"]
        assert postings(hedged, NOV)["counts"]["created"] == 0  # corrected once
        assert postings(hedged, OCT)["counts"]["created"] == 0

    def test_the_conflict_found_for_a_closed_period_is_corrected_at_once(self, hedged: Ports) -> None:
        skip_october(hedged)
        close(hedged, "2026-11")
        value(OCT)
        run = postings(hedged, OCT)  # October open: posted; November closed: corrected in December
        assert (run["status"], run["counts"]["created"]) == ("succeeded", 3)
        assert conflicts(hedged) == []
        assert lines(hedged, "FX_REVALUATION-1-2026-11-30-2") == NOV_FROM_OCT
        assert entries_of(hedged, NOV)["FX_REVALUATION-1-2026-11-30-2"] == (
            "FX_REVALUATION-1-2026-11-30",
            date(2026, 12, 1),
        )

    def test_a_backfilled_date_in_a_closed_period_is_refused(self, hedged: Ports) -> None:
        skip_october(hedged)
        close(hedged, "2026-10")
        value(OCT)
        run = postings(hedged, OCT)
        assert (run["status"], run["counts"]["created"]) == ("completed_with_exceptions", 0)
        assert set(entries_of(hedged, OCT)) == set()
        assert lines(hedged, "FX_REVALUATION-1-2026-11-30") == NOV_FROM_SEP  # nothing moved
        assert conflicts(hedged) == []
