"""Worked examples of the postings job end to end, in-process on SQLite and PostgreSQL
(docs/hedge-accounting.md, "Worked examples"): a cash flow hedge of a forecast purchase
basis-adjusted (IFRS 9 6.5.11(d)(i)), a fair value hedge (6.5.8), a net investment hedge
(6.5.13, never released), a de-designation then "no longer expected" (6.5.6, 6.5.12).

The dates and EURUSD rates are those of tests/integration/test_postings.py: S = 1.10 on the
designation date (31 Aug), 1.12 (30 Sep), 1.09 (30 Oct), 1.08 (30 Nov), 1.105 (31 Dec, the
item's date). EUR 1,000,000 forward at K = 1.10 against a EUR 980,000 item; spot proxy, USD
rate 0 (DF = 1): a forward sold has H = -1,000,000 x (S - 1.10) and the receivable's
hypothetical derivative I = 980,000 x (S - 1.10); bought, and a purchase to come, the signs
turn. A = H - H(31 Aug), B = I - I(31 Aug) (ratio 1). Lines are netted per account, debit
positive (the demo chart: 1310 inventory basis, 1450/2450 derivative asset/liability, 1460
hedged-item basis, 3510 cash flow hedge reserve, 3520 translation reserve, 7400 FX gain/loss,
7410 ineffectiveness)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select, update

from db.hedging.journal_models import JournalEntry, PostingException
from db.models import HedgeContract
from tasks.hedging.accounting import load_no_longer_expected_json
from tasks.hedging.loading import load_designations_json, load_hedged_items_json
from tasks.loading import load_contracts_csv
from tasks.ports import Ports
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
from tests.integration.test_postings import DEC, NOV, OCT, RATES, SEP, D, month_ends, nightly, postings

LOADED = datetime(2027, 1, 4, 22, 30, tzinfo=UTC)  # every rate of the file is past


def book(
    rt: Ports,
    price_source: InMemoryPriceSource,
    clock: Clock,
    *,
    side: str,
    kind: str,
    hedge_type: str,
    maturity: str = "2026-12-31",
) -> Ports:
    clock.now = price_source.now = LOADED
    rt = with_hedging(rt, discount_rates={"USD": D(0)})
    forward = fx_forward("FXF-1", trade_date="2026-08-31", side=side, maturity_date=maturity)
    load_contracts_csv(fx_contracts_csv(forward), "fx.csv")
    forecast = {"probability": "0.9"} if kind.startswith("forecast") else {}
    load_hedged_items_json(items_json(receivable("IT-1", amount="980000", kind=kind, **forecast)), "items.json")
    entry = designation("HD-1", "FXF-1", "IT-1", designation_date="2026-08-31", hedge_type=hedge_type)
    load_designations_json(designations_json(entry), "d.json")
    price_source.name = "ecb"  # ECB reference rates: FX forwards' default fixing source (no other is read)
    price_source.add("ecb.csv", RATES)
    return rt


def net(rt: Ports, key: str) -> dict[str, D]:
    """An entry's lines netted per account, debit positive."""
    with rt.uow() as uow:
        payload = uow.session.scalars(select(JournalEntry.payload).where(JournalEntry.idempotency_key == key)).one()
    out: dict[str, D] = {}
    for line in payload["lines"]:
        out[line["account"]] = out.get(line["account"], D(0)) + D(line["amount"])
    return {account: amount for account, amount in out.items() if amount}


def keys(rt: Ports) -> set[str]:
    with rt.uow() as uow:
        return set(uow.session.scalars(select(JournalEntry.idempotency_key)))


def balance(rt: Ports, account: str) -> D:
    with rt.uow() as uow:
        rows = uow.session.scalars(select(JournalEntry.payload)).all()
    return sum((D(line["amount"]) for p in rows for line in p["lines"] if line["account"] == account), D(0))


def test_a_forecast_purchase_is_basis_adjusted(runtime: Ports, price_source: InMemoryPriceSource, clock: Clock) -> None:
    rt = book(runtime, price_source, clock, side="buy", kind="forecast_purchase", hedge_type="cash_flow")
    month_ends(rt)
    # Sep: H = +1,000,000 x (1.12 - 1.10) = 20,000, I = -980,000 x 0.02 = -19,600: A = 20,000,
    # B = -19,600 offset: reserve = +min = 19,600 Cr OCI (6.5.11(a)(i)); ineffectiveness
    # 20,000 - 19,600 = 400 Cr P&L (6.5.11(a)(ii)); the derivative an asset of 20,000.
    assert net(rt, "FX_REVALUATION-1-2026-09-30") == {"1450": D(20000), "3510": D(-19600), "7410": D(-400)}
    # Nov (S = 1.08): H = -20,000, B = 19,600: reserve -19,600. Dec: H = 1,000,000 x 0.005 =
    # 5,000, B = -4,900: reserve 4,900, movement 4,900 - (-19,600) = 24,500 Cr OCI; A moved
    # 25,000: 500 Cr P&L (6.5.11(a)(ii)); liability 20,000 closed, asset 5,000 opened.
    assert net(rt, "FX_REVALUATION-1-2026-12-31") == {
        "1450": D(5000),
        "2450": D(20000),
        "3510": D(-24500),
        "7410": D(-500),
    }
    # 31 Dec, the purchase: the reserve (4,900 Cr, a gain) leaves equity into the inventory's
    # cost, not through OCI (6.5.11(d)(i)): Dr reserve 4,900, Cr inventory 4,900.
    assert net(rt, "FX_OCI_RELEASE-1-2026-12-31") == {"3510": D(4900), "1310": D(-4900)}
    assert balance(rt, "3510") == 0 and balance(rt, "1310") == D(-4900)


def test_a_fair_value_hedge_adjusts_the_item(runtime: Ports, price_source: InMemoryPriceSource, clock: Clock) -> None:
    rt = book(runtime, price_source, clock, side="sell", kind="receivable", hedge_type="fair_value")
    month_ends(rt)
    # Sep (6.5.8(a)): the instrument's change A = -20,000 to P&L (Dr 7410 20,000); (6.5.8(b)):
    # the item's change B = 19,600 adjusts its carrying amount (Dr 1460) against P&L (Cr 7410):
    # net ineffectiveness 20,000 - 19,600 = 400 Dr; the derivative a liability of 20,000.
    assert net(rt, "FX_REVALUATION-1-2026-09-30") == {"2450": D(-20000), "1460": D(19600), "7410": D(400)}
    # Oct: A moved +30,000 (Cr 7410), B moved -9,800 - 19,600 = -29,400 (Cr 1460, Dr 7410): net
    # 600 Cr; liability 20,000 closed (Dr), asset 10,000 opened (Dr).
    assert net(rt, "FX_REVALUATION-1-2026-10-30") == {
        "2450": D(20000),
        "1450": D(10000),
        "1460": D(-29400),
        "7410": D(-600),
    }
    # The item's basis adjustment is its cumulative B at 31 Dec: 980,000 x 0.005 = 4,900 Dr;
    # nothing is in a reserve, nothing is released (no OCI in a fair value hedge).
    assert balance(rt, "1460") == D(4900)
    assert not any(k.startswith("FX_OCI_") for k in keys(rt))


def test_a_net_investment_hedge_is_never_released(
    runtime: Ports, price_source: InMemoryPriceSource, clock: Clock
) -> None:
    rt = book(runtime, price_source, clock, side="sell", kind="receivable", hedge_type="net_investment")
    month_ends(rt)
    # As the cash flow hedge (6.5.13(a) by 6.5.11's rule) into the translation reserve 3520:
    # Sep reserve -19,600 (Dr), ineffectiveness 400 Dr (6.5.13(b)).
    assert net(rt, "FX_REVALUATION-1-2026-09-30") == {"2450": D(-20000), "3520": D(19600), "7410": D(400)}
    assert net(rt, "FX_REVALUATION-1-2026-12-31") == {
        "1450": D(-20000),
        "2450": D(-5000),
        "3520": D(24500),
        "7410": D(500),
    }
    # 31 Dec: the reserve stays, -4,900 (Dr 19,600 - 29,400 - 9,800 + 24,500 = 4,900): it is
    # reclassified only on disposal of the foreign operation (6.5.14), never by the worker.
    assert balance(rt, "3520") == D(4900)
    assert not any(k.startswith("FX_OCI_") for k in keys(rt))


def test_de_designated_then_no_longer_expected(runtime: Ports, price_source: InMemoryPriceSource, clock: Clock) -> None:
    rt = book(runtime, price_source, clock, side="sell", kind="receivable", hedge_type="cash_flow")
    for day in (date(2026, 8, 31), SEP, OCT):
        assert nightly(rt, day)["status"] == "succeeded"
    # Oct left: H = 10,000 (an asset), reserve 9,800 Cr (A = 10,000, B = -9,800).
    clock.now = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)  # the contracts file de-designates it
    load_contracts_csv(
        fx_contracts_csv(fx_forward("FXF-1", trade_date="2026-08-31", status="de_designated")), "fx2.csv"
    )
    clock.now = LOADED
    assert nightly(rt, NOV)["status"] == "succeeded"
    # Nov, de-designated since 10 Nov (6.5.6): the instrument's change 20,000 - 10,000 = 10,000
    # goes to FX gain/loss (Cr 7400); the reserve stays 9,800 while the receivable is still
    # expected (6.5.12(a)): no OCI line.
    assert net(rt, "FX_REVALUATION-1-2026-11-30") == {"1450": D(10000), "7400": D(-10000)}
    record = {"designation_ref": "HD-1", "recorded_by": "dana", "reason": "invoice cancelled"}
    load_no_longer_expected_json(json.dumps({"no_longer_expected": [record | {"effective_date": "2026-12-15"}]}), "n")
    assert nightly(rt, DEC)["status"] == "succeeded"
    # Recorded on 15 Dec (6.5.12(b)): the whole reserve to P&L at once: Dr 3510 9,800, Cr 7400.
    assert net(rt, "FX_OCI_NO_LONGER_EXPECTED-1-2026-12-15") == {"3510": D(9800), "7400": D(-9800)}
    # 31 Dec: the instrument still lives, in P&L: H = -5,000 from 20,000: Dr 7400 25,000.
    assert net(rt, "FX_REVALUATION-1-2026-12-31") == {"1450": D(-20000), "2450": D(-5000), "7400": D(25000)}
    assert balance(rt, "3510") == 0
    # A rerun of 31 Dec: the revaluation is stored as it is; the release (of 15 Dec) is behind
    # it, its reserve now 0: nothing more to release.
    again = postings(rt, DEC)
    assert (again["status"], again["counts"]["created"], again["counts"]["existing"]) == ("succeeded", 0, 1)
    assert (verify_date(NOV).findings, verify_date(DEC).findings) == ([], [])


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_after_the_exposure_date_an_instrument_not_valued_posts_nothing(
    runtime: Ports, price_source: InMemoryPriceSource, clock: Clock
) -> None:
    rt = book(runtime, price_source, clock, side="sell", kind="receivable", hedge_type="cash_flow")
    month_ends(rt)
    run = postings(rt, date(2027, 1, 4))  # the relationship ended with the release of 31 Dec
    assert (run["status"], run["counts"]["created"], run["counts"]["exceptions"]) == ("succeeded", 0, 0)


def test_after_the_exposure_date_an_instrument_that_lives_on_posts_to_pnl(
    runtime: Ports, price_source: InMemoryPriceSource, clock: Clock
) -> None:
    rt = book(
        runtime, price_source, clock, side="sell", kind="receivable", hedge_type="cash_flow", maturity="2027-02-26"
    )
    month_ends(rt)  # 31 Dec: H = -5,000 (a liability), the reserve -4,900 released to P&L
    clock.now = price_source.now = datetime(2027, 2, 1, 22, 30, tzinfo=UTC)
    price_source.add("ecb-jan.csv", eurusd_csv(("2027-01-28", "1.0950")))
    assert nightly(rt, date(2027, 1, 29))["status"] == "succeeded"
    # 29 Jan (D-1 28 Jan, S = 1.095): H = -1,000,000 x (1.095 - 1.10) = 5,000. The relationship
    # ended on 31 Dec (6.5.6: the hedged cash flows occurred); the forward is at fair value
    # through P&L: liability 5,000 closed, asset 5,000 opened, Cr FX gain/loss 10,000; no OCI.
    assert net(rt, "FX_REVALUATION-1-2027-01-29") == {"1450": D(5000), "2450": D(5000), "7400": D(-10000)}
    assert balance(rt, "3510") == 0


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_de_designated_with_no_status_change_stored_is_blocked(
    runtime: Ports, price_source: InMemoryPriceSource, clock: Clock
) -> None:
    rt = book(runtime, price_source, clock, side="sell", kind="receivable", hedge_type="cash_flow")
    assert nightly(rt, date(2026, 8, 31))["status"] == "succeeded"
    with rt.uow() as uow:  # as a contract loaded de-designated would be: no contract_status_changed
        uow.session.execute(update(HedgeContract).values(status="de_designated"))
        uow.commit()
    run = postings(rt, SEP)
    assert run["status"] == "completed_with_exceptions"
    with rt.uow() as uow:
        [reason] = [e.details["reason"] for e in uow.session.scalars(select(PostingException))]
    assert reason == "the hedging instrument is de-designated but no date of its status change is stored"
