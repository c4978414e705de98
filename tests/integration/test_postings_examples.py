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
from sqlalchemy import select

from db.hedging.journal_models import JournalEntry
from tasks.hedging.accounting import load_no_longer_expected_json
from tasks.hedging.loading import load_designations_json, load_hedged_items_json
from tasks.loading import load_contracts_csv
from tasks.ports import Ports
from tests.fakes import Clock, InMemoryPriceSource
from tests.hedging_builders import (
    designation,
    designations_json,
    fx_contracts_csv,
    fx_forward,
    items_json,
    receivable,
    with_hedging,
)
from tests.integration.test_postings import DEC, NOV, OCT, RATES, SEP, D, month_ends, nightly, postings

LOADED = datetime(2027, 1, 4, 22, 30, tzinfo=UTC)  # every rate of the file is past


def book(rt: Ports, price_source: InMemoryPriceSource, clock: Clock, *, side: str, kind: str, hedge_type: str) -> Ports:
    clock.now = price_source.now = LOADED
    rt = with_hedging(rt, discount_rates={"USD": D(0)})
    load_contracts_csv(fx_contracts_csv(fx_forward("FXF-1", trade_date="2026-08-31", side=side)), "fx.csv")
    forecast = {"probability": "0.9"} if kind.startswith("forecast") else {}
    load_hedged_items_json(items_json(receivable("IT-1", amount="980000", kind=kind, **forecast)), "items.json")
    entry = designation("HD-1", "FXF-1", "IT-1", designation_date="2026-08-31", hedge_type=hedge_type)
    load_designations_json(designations_json(entry), "d.json")
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


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_after_the_exposure_date_an_instrument_not_valued_posts_nothing(
    runtime: Ports, price_source: InMemoryPriceSource, clock: Clock
) -> None:
    rt = book(runtime, price_source, clock, side="sell", kind="receivable", hedge_type="cash_flow")
    month_ends(rt)
    run = postings(rt, date(2027, 1, 4))  # the relationship ended with the release of 31 Dec
    assert (run["status"], run["counts"]["created"], run["counts"]["exceptions"]) == ("succeeded", 0, 0)
