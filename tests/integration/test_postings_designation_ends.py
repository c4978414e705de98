"""A back-dated de-designation and a re-designation through the postings job, on SQLite and
PostgreSQL (IFRS 9 6.5.6: discontinued prospectively from the date the criteria stop being
met; 6.5.12(a): the reserve stays while the hedged cash flows are expected; 6.5.11(d)(ii):
recycled when they occur).

The book of tests/integration/test_postings_examples.py: EUR 1,000,000 sold forward at
1.10 against a EUR 980,000 receivable due 31 Dec 2026, designated 31 Aug, spot proxy, DF = 1:
H = -1,000,000 x (S - 1.10), I = 980,000 x (S - 1.10), with S = 1.12 (30 Sep), 1.09 (30 Oct),
1.08 (30 Nov), 1.105 (31 Dec). Hedge accounting up to 30 Oct (test_postings.py): 30 Sep
H = -20,000, reserve -19,600; 30 Oct H = 10,000, A = 10,000, B = -9,800, reserve 9,800.
Lines are netted per account, debit positive (1450/2450 derivative asset/liability, 3510
cash flow hedge reserve, 7400 FX gain/loss, 7410 ineffectiveness)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from core.errors import ContractChanged, InvalidInput
from db.hedging.models import EffectivenessResult
from db.models import IdempotencyConflict
from tasks.hedging.accounting import reserve_report
from tasks.hedging.loading import load_designations_json
from tasks.loading import load_contracts_csv
from tasks.ports import Ports
from tasks.verify import verify_date
from tests.fakes import Clock, InMemoryPriceSource
from tests.hedging_builders import FX_HEADER, designation, designations_json, fx_forward
from tests.integration.test_postings import DEC, NOV, OCT, SEP, D, nightly, postings
from tests.integration.test_postings_backfill import close, entries_of
from tests.integration.test_postings_examples import balance, book, net


def contracts(status: str, de_designated_on: str = "") -> str:
    header = [*FX_HEADER, "de_designated_on"]
    row = fx_forward("FXF-1", trade_date="2026-08-31", status=status) | {"de_designated_on": de_designated_on}
    return "\n".join([",".join(header), ",".join(row[h] for h in header)]) + "\n"


@pytest.fixture
def posted_to_october(runtime: Ports, price_source: InMemoryPriceSource, clock: Clock) -> Ports:
    rt = book(runtime, price_source, clock, side="sell", kind="receivable", hedge_type="cash_flow")
    for day in (date(2026, 8, 31), SEP, OCT):
        assert nightly(rt, day)["status"] == "succeeded", day
    return rt


class TestBackDatedDeDesignation:
    def test_refused_in_the_future_or_before_the_designation(self, posted_to_october: Ports) -> None:
        # the clock: 4 Jan 2027 (tests/integration/test_postings_examples.py LOADED)
        with pytest.raises(ContractChanged, match=r"FXF-1: de_designated_on: 2027-01-05 is in the future"):
            load_contracts_csv(contracts("de_designated", "2027-01-05"), "c.csv")
        with pytest.raises(ContractChanged, match=r"2026-08-30 is before HD-1's designation date 2026-08-31"):
            load_contracts_csv(contracts("de_designated", "2026-08-30"), "c.csv")
        with pytest.raises(InvalidInput) as bad:
            load_contracts_csv(contracts("active", "2026-10-15"), "c.csv")
        assert bad.value.errors == ["c.csv:2: de_designated_on: only a row with status de_designated takes one"]
        load_contracts_csv(contracts("de_designated", "2026-10-15"), "c.csv")
        load_contracts_csv(contracts("de_designated", "2026-10-15"), "c.csv")  # a reload: the same date
        with pytest.raises(ContractChanged, match=r"de-designated effective 2026-10-15; a reload cannot move it"):
            load_contracts_csv(contracts("de_designated", "2026-10-20"), "c.csv")

    def test_a_closed_period_takes_its_corrections_in_the_first_open_one(self, posted_to_october: Ports) -> None:
        rt = posted_to_october
        assert nightly(rt, NOV)["status"] == "succeeded"  # 30 Nov posted in the hedge
        hedged_oct = {"1450": D(10000), "2450": D(20000), "3510": D(-29400), "7410": D(-600)}
        assert net(rt, "FX_REVALUATION-1-2026-10-30") == hedged_oct
        # On 4 Jan a person records that the hedge stopped qualifying on 15 Oct (6.5.6).
        load_contracts_csv(contracts("de_designated", "2026-10-15"), "c.csv")
        # While October is open, 30 Oct rerun is a conflict: the stored entry stays.
        assert postings(rt, OCT)["counts"]["conflicts"] == 1
        with rt.uow() as uow:
            assert list(uow.session.scalars(select(IdempotencyConflict.idempotency_key))) == [
                "FX_REVALUATION-1-2026-10-30"
            ]
        [finding] = verify_date(OCT).findings
        assert finding.problem == "recomputed_differs"
        close(rt, "2026-10")
        close(rt, "2026-11")
        run = postings(rt, OCT)  # corrects 30 Oct, then 30 Nov that starts from it
        assert (run["status"], run["counts"]["created"]) == ("succeeded", 4)
        # 30 Oct outside the hedge, from 30 Sep (H = -20,000, reserve -19,600): the instrument's
        # change 10,000 - (-20,000) = 30,000 to FX gain/loss (6.5.6, fair value through P&L);
        # the reserve stays -19,600 (6.5.12(a)): no OCI, no ineffectiveness.
        assert net(rt, "FX_REVERSAL-FX_REVALUATION-1-2026-10-30") == {k: -v for k, v in hedged_oct.items()}
        assert net(rt, "FX_REVALUATION-1-2026-10-30-2") == {"1450": D(10000), "2450": D(20000), "7400": D(-30000)}
        # 30 Nov from it: 20,000 - 10,000 = 10,000 to FX gain/loss; the hedge entry (reserve
        # +9,800, ineffectiveness 200 Cr) reversed. Both on 1 Dec, the first open day.
        assert net(rt, "FX_REVERSAL-FX_REVALUATION-1-2026-11-30") == {
            "1450": D(-10000),
            "3510": D(9800),
            "7410": D(200),
        }
        assert net(rt, "FX_REVALUATION-1-2026-11-30-2") == {"1450": D(10000), "7400": D(-10000)}
        assert entries_of(rt, NOV)["FX_REVALUATION-1-2026-11-30-2"] == (
            "FX_REVALUATION-1-2026-11-30",
            date(2026, 12, 1),
        )
        assert (verify_date(OCT).findings, verify_date(NOV).findings) == ([], [])
        assert nightly(rt, DEC)["status"] == "succeeded"
        # 31 Dec: H = -5,000 from 20,000: 25,000 Dr FX gain/loss; the receivable is received: the
        # reserve of 30 Sep, -19,600 (a loss), recycled (6.5.11(d)(ii) by 6.5.12(a)).
        assert net(rt, "FX_REVALUATION-1-2026-12-31") == {"1450": D(-20000), "2450": D(-5000), "7400": D(25000)}
        assert net(rt, "FX_OCI_RELEASE-1-2026-12-31") == {"3510": D(-19600), "7400": D(19600)}
        # December's roll-forward, credit positive: opening -19,600 + 29,400 + 9,800 = 19,600;
        # recognised -29,400 - 9,800 (the reversals) = -39,200; reclassified +19,600: closing 0.
        [dec] = reserve_report("2026-12")["relationships"]
        assert (dec["opening"], dec["recognised"], dec["reclassified_to_pnl"]) == (D(19600), D(-39200), D(19600))
        assert (dec["closing"], dec["carried"], dec["reconciled"]) == (D(0), D(0), True)
        assert balance(rt, "3510") == 0 and balance(rt, "1450") + balance(rt, "2450") == D(-5000)


class TestReDesignation:
    def test_a_new_relationship_takes_the_instrument_over(self, posted_to_october: Ports) -> None:
        rt = posted_to_october
        load_contracts_csv(contracts("de_designated", "2026-11-02"), "c.csv")
        with pytest.raises(ContractChanged, match=r"FXF-1: status de_designated -> active is made by designation"):
            load_contracts_csv(contracts("active"), "c2.csv")  # a hedge once discontinued is not resumed
        # HD-2: the same forward and receivable, designated again on 30 Nov: the designation
        # moves the forward back to active (the lifecycle's de_designated -> active).
        again = designation("HD-2", "FXF-1", "IT-1", designation_date="2026-11-30")
        notes = load_designations_json(designations_json(again), "d2.json").notes
        assert notes[-1] == "HD-2 v1: FXF-1 de_designated -> active"
        assert load_contracts_csv(contracts("active"), "c2.csv").existing == 1
        assert nightly(rt, NOV)["status"] == "succeeded"
        # HD-1 posts nothing on 30 Nov: the instrument is HD-2's; its reserve 9,800 stays (6.5.12(a)).
        assert set(entries_of(rt, NOV)) == {"FX_REVALUATION-2-2026-11-30"}
        # HD-2's designation date: A = B = 0; the forward, carried at 10,000 (30 Oct, HD-1), is
        # now 20,000: the 10,000 of November outside any hedge to FX gain/loss (6.5.6).
        assert net(rt, "FX_REVALUATION-2-2026-11-30") == {"1450": D(10000), "7400": D(-10000)}
        assert nightly(rt, DEC)["status"] == "succeeded"
        # HD-2 on 31 Dec: A = -5,000 - 20,000 = -25,000; B = 4,900 - (-19,600) = 24,500; reserve
        # -min(25,000, 24,500) = -24,500 (6.5.11(a)), Dr OCI; ineffectiveness -25,000 + 24,500 =
        # -500, Dr P&L (6.5.11(a)(ii)); asset 20,000 closed, liability 5,000 opened.
        assert net(rt, "FX_REVALUATION-2-2026-12-31") == {
            "1450": D(-20000),
            "2450": D(-5000),
            "3510": D(24500),
            "7410": D(500),
        }
        # The receivable is received: each relationship's reserve recycled (6.5.11(d)(ii)):
        # HD-2's -24,500 (Dr P&L), HD-1's 9,800 kept since November (Cr P&L).
        assert net(rt, "FX_OCI_RELEASE-2-2026-12-31") == {"3510": D(-24500), "7400": D(24500)}
        assert net(rt, "FX_OCI_RELEASE-1-2026-12-31") == {"3510": D(9800), "7400": D(-9800)}
        assert "FX_REVALUATION-1-2026-12-31" not in entries_of(rt, DEC)
        # One derivative on the books: -5,000 = H(31 Dec); the reserve empty.
        assert balance(rt, "1450") + balance(rt, "2450") == D(-5000)
        assert balance(rt, "3510") == 0
        with rt.uow() as uow:  # only HD-2 is tested once it took the forward over
            tested = set(uow.session.scalars(select(EffectivenessResult.idempotency_key)))
        assert {k for k in tested if k.endswith("2026-12-31")} == {"EFF:2:1:2026-12-31"}
        rows = {r["relationship"]: r for r in reserve_report("2026-12")["relationships"]}
        assert (rows["HD-1"]["opening"], rows["HD-1"]["reclassified_to_pnl"], rows["HD-1"]["closing"]) == (
            D(9800),
            D(-9800),
            D(0),
        )
        assert (rows["HD-2"]["recognised"], rows["HD-2"]["reclassified_to_pnl"], rows["HD-2"]["closing"]) == (
            D(-24500),
            D(24500),
            D(0),
        )
        assert (verify_date(NOV).findings, verify_date(DEC).findings) == ([], [])
