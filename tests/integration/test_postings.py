"""The postings step end to end, in-process on SQLite and PostgreSQL: a cash flow hedge of a
EUR receivable through four month-ends (IFRS 9 6.5.11), each nightly valuing both legs,
testing them and posting; every figure worked out by hand beside it.

The hedge: EUR 1,000,000 sold forward at K = 1.10 for 31 Dec 2026 against a EUR 980,000
receivable due that day (its hypothetical derivative: long EUR 980,000 at 1.10), designated
on 31 Aug 2026. Spot proxy, USD rate 0 (DF = 1), so on each date, with S the D-1 EURUSD:
H = -1,000,000 x (S - 1.10), I = 980,000 x (S - 1.10); A = H - H(31 Aug), B = I - I(31 Aug)
(ratio 1). 6.5.11(a): reserve = sign(A) x min(|A|, |B|) when A and B offset; the OCI movement
is the reserve's change; 6.5.11(a)(ii), (c): the rest of A's change is ineffectiveness, in
P&L. 6.5.11(d)(ii): at the receivable's date the reserve is reclassified to P&L."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from core.hedging.period_lock import PeriodAction
from db import ledger
from db.hedging.journal_models import JournalEntry, PostingException
from db.hedging.periods import change_period
from db.models import IdempotencyConflict
from tasks.hedging.accounting import journals_report, load_no_longer_expected_json, reserve_report
from tasks.hedging.loading import load_designations_json, load_hedged_items_json
from tasks.hedging.postings import post_hedge_accounting_entries
from tasks.loading import load_contracts_csv
from tasks.nightly import run_nightly
from tasks.ports import Ports
from tasks.prices import fetch_settlement_prices
from tasks.summary import run_summary
from tasks.valuation import compute_mtm_snapshots
from tasks.verify import verify_date
from tests.fakes import Clock, InMemoryPriceSource
from tests.hedging_builders import (
    designation,
    designations_json,
    eurusd_csv,
    fx_contracts_csv,
    fx_forward,
    items_json,
    receivable,
    with_hedging,
)

D = Decimal
DESIGNATED, SEP, OCT, NOV, DEC = (
    date(2026, 8, 31),
    date(2026, 9, 30),
    date(2026, 10, 30),
    date(2026, 11, 30),
    date(2026, 12, 31),
)
# TARGET D-1 of each date: Fri 28 Aug, Tue 29 Sep, Thu 29 Oct, Fri 27 Nov, Wed 30 Dec.
RATES = eurusd_csv(
    ("2026-08-28", "1.1000"),
    ("2026-09-29", "1.1200"),
    ("2026-10-29", "1.0900"),
    ("2026-11-27", "1.0800"),
    ("2026-12-30", "1.1050"),
)


@pytest.fixture
def hedged(runtime: Ports, price_source: InMemoryPriceSource, clock: Clock) -> Ports:
    clock.now = price_source.now = datetime(2027, 1, 4, 22, 30, tzinfo=UTC)  # every rate of the file is past
    rt = with_hedging(runtime, discount_rates={"USD": D(0)})
    load_contracts_csv(fx_contracts_csv(fx_forward("FXF-1", trade_date="2026-08-31")), "fx.csv")
    load_hedged_items_json(items_json(receivable("RCV-1", amount="980000")), "items.json")
    load_designations_json(
        designations_json(designation("HD-1", "FXF-1", "RCV-1", designation_date="2026-08-31")), "d.json"
    )
    price_source.name = "ecb"  # ECB reference rates: FX forwards' default fixing source (no other is read)
    price_source.add("ecb.csv", RATES)
    return rt


def nightly(rt: Ports, day: date) -> dict[str, Any]:
    started = run_nightly.apply_async(kwargs={"as_of": day.isoformat()}).get()
    with rt.uow() as uow:
        return run_summary(ledger.get_run(uow.session, started["batch_run_id"]))


def postings(rt: Ports, day: date) -> dict[str, Any]:
    started = post_hedge_accounting_entries.apply_async(kwargs={"as_of": day.isoformat()}).get()
    with rt.uow() as uow:
        return run_summary(ledger.get_run(uow.session, started["batch_run_id"]))


def lines(rt: Ports, key: str) -> dict[str, D]:
    """An entry's lines by account, debit positive (the demo chart: 1450 derivative asset,
    2450 derivative liability, 3510 cash flow hedge reserve, 7400 FX gain/loss, 7410 ineffectiveness)."""
    with rt.uow() as uow:
        entry = uow.session.scalars(select(JournalEntry).where(JournalEntry.idempotency_key == key)).one()
        return {line["account"]: D(line["amount"]) for line in entry.payload["lines"]}


def month_ends(rt: Ports) -> None:
    for day in (DESIGNATED, SEP, OCT, NOV, DEC):
        assert nightly(rt, day)["status"] == "succeeded", day


class TestFourMonthEnds:
    def test_the_entries(self, hedged: Ports) -> None:
        month_ends(hedged)
        # Sep: S = 1.12: H = -20,000, I = 19,600; A = -20,000, B = 19,600: reserve -19,600 (Dr OCI),
        # ineffectiveness -20,000 - (-19,600) = -400 (Dr P&L); the derivative a liability of 20,000.
        assert lines(hedged, "FX_REVALUATION-1-2026-09-30") == {"2450": D(-20000), "3510": D(19600), "7410": D(400)}
        # Oct: S = 1.09: H = 10,000, A = 10,000, B = -9,800: reserve 9,800, movement 29,400 (Cr OCI);
        # A moved 30,000: ineffectiveness 600 (Cr); liability 20,000 closed, asset 10,000 opened.
        assert lines(hedged, "FX_REVALUATION-1-2026-10-30") == {
            "1450": D(10000),
            "2450": D(20000),
            "3510": D(-29400),
            "7410": D(-600),
        }
        # Nov: S = 1.08: H = 20,000, reserve 19,600 (movement 9,800 Cr), A moved 10,000: 200 (Cr).
        assert lines(hedged, "FX_REVALUATION-1-2026-11-30") == {"1450": D(10000), "3510": D(-9800), "7410": D(-200)}
        # Dec: S = 1.105: H = -5,000, A = -5,000, B = 4,900: reserve -4,900, movement -24,500 (Dr);
        # A moved -25,000: ineffectiveness -500 (Dr); asset 20,000 closed, liability 5,000 opened.
        assert lines(hedged, "FX_REVALUATION-1-2026-12-31") == {
            "1450": D(-20000),
            "2450": D(-5000),
            "3510": D(24500),
            "7410": D(500),
        }
        # 31 Dec is the receivable's date: the reserve (-4,900, a debit balance: a loss) to P&L
        # (6.5.11(d)(ii)): Dr FX gain/loss 4,900, Cr reserve 4,900.
        assert lines(hedged, "FX_OCI_RELEASE-1-2026-12-31") == {"3510": D(-4900), "7400": D(4900)}

    def test_a_rerun_posts_nothing_new(self, hedged: Ports) -> None:
        month_ends(hedged)
        again = postings(hedged, NOV)
        assert (again["status"], again["counts"]["created"], again["counts"]["existing"]) == ("succeeded", 0, 1)

    def test_the_reserve_rolls_forward_and_the_journals_balance(self, hedged: Ports) -> None:
        month_ends(hedged)
        dec = reserve_report("2026-12")
        [line] = dec["relationships"]
        # reserve movements, credit positive: 19,600 - 24,500 + 4,900 = 0
        assert (line["opening"], line["recognised"], line["reclassified_to_pnl"]) == (
            D(19600),
            D(-24500),
            D(4900),
        )
        assert (line["moved_to_cost"], line["closing"]) == (D(0), D(0))
        assert reserve_report("2026-10")["totals"][0]["closing"] == D(9800)
        report = journals_report("2026-12")
        assert report["totals"]["USD"]["debit"] == report["totals"]["USD"]["credit"] == D(29900)
        assert report["balanced"]
        assert {row["entry_key"] for row in report["rows"]} == {
            "FX_REVALUATION-1-2026-12-31",
            "FX_OCI_RELEASE-1-2026-12-31",
        }
        # the reserve line names both snapshots (with their hashes) and the test of the date
        reserve = next(r for r in report["rows"] if r["account"] == "3510")
        named = [key.split(" ")[0] for key in reserve["source_keys"]]
        assert named == ["MTM:hedge_contract:1:2026-12-31", "MTM:hedged_item:1:2026-12-31", "EFF:1:1:2026-12-31"]
        assert reserve["source_keys"][0].startswith("MTM:hedge_contract:1:2026-12-31 sha256:")


def blocked(rt: Ports) -> list[tuple[str, str]]:
    with rt.uow() as uow:
        return [(e.reason, e.details["reason"]) for e in uow.session.scalars(select(PostingException))]


class TestBlockedAndChanged:
    def test_no_mtm_of_both_legs_is_an_exception(self, hedged: Ports) -> None:
        nightly(hedged, DESIGNATED)
        run = postings(hedged, SEP)  # no MTM of 30 Sep yet
        assert run["status"] == "completed_with_exceptions"
        assert blocked(hedged) == [
            ("postings_blocked", "no MTM of the hedging instrument and the hedged item on 2026-09-30")
        ]

    def test_a_changed_input_is_a_conflict_then_a_correction_once_closed(self, hedged: Ports) -> None:
        for day in (DESIGNATED, SEP, OCT):
            nightly(hedged, day)
        # 30 Nov posted before its effectiveness test: the entry names no test
        for task in (fetch_settlement_prices, compute_mtm_snapshots):
            task.apply_async(kwargs={"as_of": NOV.isoformat()}).get()
        assert postings(hedged, NOV)["counts"]["created"] == 1
        nightly(hedged, NOV)  # the test of 30 Nov lands: the entry would now name it
        with hedged.uow() as uow:
            conflicts = uow.session.scalars(select(IdempotencyConflict.idempotency_key)).all()
        assert conflicts == ["FX_REVALUATION-1-2026-11-30"]
        with hedged.uow() as uow:
            change_period(
                uow.session,
                "2026-11",
                PeriodAction.CLOSE,
                actor="ann",
                second=None,
                reason="month end",
                now=hedged.clock(),
            )
            uow.commit()
        fixed = postings(hedged, NOV)
        assert fixed["counts"]["created"] == 2
        with hedged.uow() as uow:
            rows = {
                e.idempotency_key: (e.reverses_key, e.payload["corrects"], e.posting_date, e.period)
                for e in uow.session.scalars(select(JournalEntry).where(JournalEntry.as_of_date == NOV))
            }
        # the stored entry stays; its reversal and the recomputed entry land on 1 Dec, naming it
        assert rows == {
            "FX_REVALUATION-1-2026-11-30": (None, None, NOV, "2026-11"),
            "FX_REVERSAL-FX_REVALUATION-1-2026-11-30": (
                "FX_REVALUATION-1-2026-11-30",
                None,
                date(2026, 12, 1),
                "2026-12",
            ),
            "FX_REVALUATION-1-2026-11-30-2": (None, "FX_REVALUATION-1-2026-11-30", date(2026, 12, 1), "2026-12"),
        }
        assert postings(hedged, NOV)["counts"]["created"] == 0  # corrected once

    def test_an_entry_dated_in_a_closed_period_is_refused(self, hedged: Ports) -> None:
        nightly(hedged, DESIGNATED)
        with hedged.uow() as uow:
            change_period(
                uow.session, "2026-09", PeriodAction.CLOSE, actor="ann", second=None, reason="x", now=hedged.clock()
            )
            uow.commit()
        run = nightly(hedged, SEP)
        assert run["status"] == "completed_with_exceptions"
        assert blocked(hedged) == [
            (
                "postings_blocked",
                "FX_REVALUATION-1-2026-09-30: period 2026-09 is closed: an entry dated in it is refused "
                "(seed 004 Lock 1)",
            )
        ]


class TestVerify:
    def test_verify_recomputes_the_entries_of_a_date(self, hedged: Ports) -> None:
        month_ends(hedged)
        result = verify_date(NOV)
        assert (result.entries, result.findings) == (1, [])

    def test_verify_lists_an_entry_that_would_now_differ(self, hedged: Ports) -> None:
        for day in (DESIGNATED, SEP, OCT):
            nightly(hedged, day)
        for task in (fetch_settlement_prices, compute_mtm_snapshots):
            task.apply_async(kwargs={"as_of": NOV.isoformat()}).get()
        postings(hedged, NOV)  # posted before the test of 30 Nov
        assert verify_date(NOV).findings == []
        nightly(hedged, NOV)
        [finding] = verify_date(NOV).findings
        assert (finding.snapshot_key, finding.problem, finding.detail) == (
            "FX_REVALUATION-1-2026-11-30",
            "recomputed_differs",
            "same amounts; sources stored only [], recomputed only ['EFF:1:1:2026-11-30']",
        )


@pytest.mark.parametrize("db_url", ["pg"], indirect=True)  # triggers: SQLite has none, the write path only inserts
@pytest.mark.parametrize(
    "table", ["journal_entries", "posting_exceptions", "accounting_period_events", "hedge_no_longer_expected"]
)
def test_the_accounting_tables_are_append_only_on_postgres(hedged: Ports, table: str) -> None:
    nightly(hedged, DESIGNATED)  # an entry
    postings(hedged, SEP)  # an exception: no MTM of 30 Sep
    record = {"designation_ref": "HD-1", "recorded_by": "dana", "reason": "cancelled", "effective_date": "2026-12-15"}
    load_no_longer_expected_json(json.dumps({"no_longer_expected": [record]}), "n.json")
    with hedged.uow() as uow:
        change_period(
            uow.session, "2026-12", PeriodAction.CLOSE, actor="ann", second=None, reason="x", now=hedged.clock()
        )
        uow.commit()
    with hedged.uow() as uow:
        assert uow.session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 1
        for statement in (f"UPDATE {table} SET id = id", f"DELETE FROM {table}", f"TRUNCATE {table} CASCADE"):
            with pytest.raises(DBAPIError, match="append-only"), uow.session.begin_nested():
                uow.session.execute(text(statement))
