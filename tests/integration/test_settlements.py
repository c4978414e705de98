"""Settlement at maturity end to end, in-process on SQLite and PostgreSQL (seed 004 §3.2.5,
§4.1; docs/hedge-accounting.md, "Settlement"): one book, the nightlies of 30 Nov and 31 Dec
2026 (and 4 Jan 2027 for the commodity), the proposals they record, a settlements file,
every figure worked by hand.

The book (EUR 1,000,000 each at K = 1.10, maturing 31 Dec 2026; spot proxy, DF = 1;
designated on 30 Nov, the items due 15 Jan 2027, ratio 1). ECB EURUSD (source `ecb`): 27 Nov
1.08 (the D-1 of 30 Nov), 30 Dec 1.105 (the D-1 of 31 Dec, and the FX fixing: the business day
before the settlement date). A forward sold has H = -1,000,000 x (S - 1.10), its receivable
I = +1,000,000 x (S - 1.10); bought (a purchase to come), the signs turn. So on 30 Nov
H = +-20,000 and on 31 Dec H = -+5,000: A = -+25,000, B = +-25,000, reserve sign(A) x 25,000
(6.5.11(a)), no ineffectiveness.

- FXD-CF: sold, deliverable, cash flow hedge of a receivable (recycle_to_pnl);
- FXD-FP: bought, deliverable, cash flow hedge of a forecast purchase (basis_adjustment);
- FXN-NI: sold, NDF, net investment hedge (none);
- FXN-2: bought EUR 500,000 at 1.09, NDF, never designated;
- AL-1: 10 mt LME-AL bought at 2,500, cash-settled at the price of 31 Dec, 2,560.

Lines netted per account, debit positive (demo chart; cash 1010-<currency>).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core.errors import InvalidInput
from core.hedging.period_lock import PeriodAction
from db.hedging.journal_models import JournalEntry
from db.hedging.periods import change_period
from db.hedging.settlement_models import Settlement
from db.models import AuditEvent, HedgeContract
from tasks.hedging.accounting import journals_report, reserve_report
from tasks.hedging.loading import load_designations_json, load_hedged_items_json
from tasks.hedging.settlement import load_settlements_json, settlements_report
from tasks.loading import load_contracts_csv
from tasks.ports import Ports
from tests.builders import contract, contracts_csv, prices_csv
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
from tests.integration.test_postings import nightly

D = Decimal
NOV, DEC, JAN = date(2026, 11, 30), date(2026, 12, 31), date(2027, 1, 4)
RATES = eurusd_csv(("2026-11-27", "1.0800"), ("2026-12-30", "1.1050"))
ALUMINIUM = prices_csv(
    ("LME-AL", "2026-11-27", "2450"), ("LME-AL", "2026-12-30", "2540"), ("LME-AL", "2026-12-31", "2560")
)


@pytest.fixture
def book(runtime: Ports, price_source: InMemoryPriceSource, clock: Clock) -> Ports:
    clock.now = price_source.now = datetime(2027, 1, 4, 22, 30, tzinfo=UTC)
    price_source.name = "ecb"  # the fixing source of FX forwards
    rt = with_hedging(runtime, discount_rates={"USD": D(0)})
    forwards = [
        fx_forward("FXD-CF", trade_date="2026-11-30"),
        fx_forward("FXD-FP", trade_date="2026-11-30", side="buy"),
        fx_forward("FXN-NI", trade_date="2026-11-30", settlement_method="ndf"),
        fx_forward(
            "FXN-2",
            trade_date="2026-11-30",
            side="buy",
            quantity="500000",
            entry_price="1.090000",
            settlement_method="ndf",
        ),  # fmt: skip
    ]
    load_contracts_csv(fx_contracts_csv(*forwards), "fx.csv")
    load_contracts_csv(contracts_csv(contract("AL-1", maturity_date="2026-12-31", trade_date="2026-11-02")), "al.csv")
    due = {"exposure_date": "2027-01-15"}
    items = [
        receivable("RCV-1", **due),
        receivable("FP-1", kind="forecast_purchase", probability="0.9", **due),
        receivable("NI-1", **due),
    ]
    load_hedged_items_json(items_json(*items), "items.json")
    entries = [
        designation("HD-CF", "FXD-CF", "RCV-1", designation_date="2026-11-30"),
        designation("HD-FP", "FXD-FP", "FP-1", designation_date="2026-11-30"),
        designation("HD-NI", "FXN-NI", "NI-1", designation_date="2026-11-30", hedge_type="net_investment"),
    ]
    load_designations_json(designations_json(*entries), "d.json")
    price_source.add("ecb.csv", RATES)
    price_source.add("lme.csv", ALUMINIUM)
    for day in (NOV, DEC):
        assert nightly(rt, day)["status"] == "succeeded", day
    return rt


def settlements(*rows: tuple[str, str, str], by: str = "dana", one: str = "erin", two: str = "frank") -> str:
    entries = [
        {
            "contract_ref": ref,
            "settlement_date": day,
            "rate": rate,
            "settled_by": by,
            "approver_1": one,
            "approver_2": two,
        }
        for ref, day, rate in rows
    ]
    return json.dumps({"settlements": entries})


FX_ORDERS = (
    ("FXD-CF", "2026-12-31", "1.108"),
    ("FXD-FP", "2026-12-31", "1.108"),
    ("FXN-NI", "2026-12-31", "1.105"),
    ("FXN-2", "2026-12-31", "1.105"),
)


def net(rt: Ports, key: str) -> dict[str, D]:
    with rt.uow() as uow:
        payload = uow.session.scalars(select(JournalEntry.payload).where(JournalEntry.idempotency_key == key)).one()
    out: dict[str, D] = {}
    for line in payload["lines"]:
        out[line["account"]] = out.get(line["account"], D(0)) + D(line["amount"])
    return {account: amount for account, amount in out.items() if amount}


def ids(rt: Ports) -> dict[str, int]:
    with rt.uow() as uow:
        return {ref: cid for ref, cid in uow.session.execute(select(HedgeContract.contract_ref, HedgeContract.id))}


def balance(rt: Ports, account: str) -> D:
    with rt.uow() as uow:
        rows = uow.session.scalars(select(JournalEntry.payload)).all()
    return sum((D(line["amount"]) for p in rows for line in p["lines"] if line["account"] == account), D(0))


def statuses(rt: Ports) -> dict[str, tuple[str, str]]:
    with rt.uow() as uow:
        rows = uow.session.execute(
            select(HedgeContract.contract_ref, HedgeContract.status, Settlement.status).join(
                Settlement, Settlement.contract_id == HedgeContract.id, isouter=True
            )
        )
        return {ref: (c, s) for ref, c, s in rows}


def refused(text: str) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        load_settlements_json(text, "s.json")
    return caught.value.errors


def test_settled_at_maturity(book: Ports, clock: Clock) -> None:
    rt, cid = book, ids(book)
    # 31 Dec's nightly proposed the four FX forwards (fixing EURUSD of 30 Dec, 1.105, ECB);
    # the aluminium waits for the price of its maturity date (the next nightly).
    assert statuses(rt)["FXD-CF"] == ("active", "pending") and statuses(rt)["AL-1"] == ("active", None)
    # Refused, each naming why, and nothing written (all or nothing, seed 004 §4.1 and Lock 1):
    one_approver = refused(settlements(*FX_ORDERS, one="erin", two="erin"))
    assert len(one_approver) == 4 and "two distinct approvers are required" in one_approver[0]
    settler_approves = refused(settlements(FX_ORDERS[0], by="erin"))
    assert "approver_1: erin settles this contract and may not approve it" in settler_approves[0]
    not_the_fixing = refused(settlements(("FXN-NI", "2026-12-31", "1.11")))
    assert "rate: 1.110000 does not confirm the fixing 1.105 (EURUSD of 2026-12-30 from ecb)" in not_the_fixing[0]
    with rt.uow() as uow:
        change_period(
            uow.session, "2026-12", PeriodAction.CLOSE, actor="ann", second=None, reason="year end", now=clock()
        )
        uow.commit()
    closed = refused(settlements(*FX_ORDERS))
    assert closed[0].endswith("period 2026-12 is closed: a settlement dated in it is refused (seed 004 Lock 1)")
    assert statuses(rt)["FXD-CF"] == ("active", "pending")
    with rt.uow() as uow:
        change_period(
            uow.session, "2026-12", PeriodAction.REOPEN, actor="ann", second="bob", reason="settle", now=clock()
        )
        uow.commit()

    done = load_settlements_json(settlements(*FX_ORDERS), "s.json")
    assert len(done.created) == 4
    # FXD-CF, sold, deliverable at R = 1.108, carried as a liability of 5,000 (H of 31 Dec):
    # Cr 1010-EUR 1,108,000 (EUR 1m delivered at R), Dr 1010-USD 1,100,000 (received at K),
    # Dr 2450 5,000; FX gain/loss -( -1,000,000 x (1.108 - 1.10) - (-5,000)) = 3,000 Dr 7400.
    assert net(rt, f"FX_SETTLEMENT-{cid['FXD-CF']}-2026-12-31") == {
        "1010-EUR": D(-1108000),
        "1010-USD": D(1100000),
        "2450": D(5000),
        "7400": D(3000),
    }
    # Its reserve, -25,000 (a loss held in OCI), recycled to P&L (6.5.11(d)(ii)): Cr 3510, Dr 7400.
    assert net(rt, "FX_OCI_RELEASE-1-2026-12-31") == {"3510": D(-25000), "7400": D(25000)}
    # FXD-FP, bought at R = 1.108, an asset of 5,000: Dr 1010-EUR 1,108,000, Cr 1010-USD
    # 1,100,000, Cr 1450 5,000, Cr 7400 1,000,000 x 0.008 - 5,000 = 3,000.
    assert net(rt, f"FX_SETTLEMENT-{cid['FXD-FP']}-2026-12-31") == {
        "1010-EUR": D(1108000),
        "1010-USD": D(-1100000),
        "1450": D(-5000),
        "7400": D(-3000),
    }
    # Its reserve +25,000 goes into the inventory's cost, not through P&L (6.5.11(d)(i)).
    assert net(rt, "FX_OCI_RELEASE-2-2026-12-31") == {"3510": D(25000), "1310": D(-25000)}
    # FXN-NI, the NDF at the ECB fixing: -1,000,000 x (1.105 - 1.10) = -5,000 paid (Cr 1010-USD),
    # the liability of 5,000 derecognised (Dr 2450): nothing left for P&L.
    assert net(rt, f"FX_SETTLEMENT-{cid['FXN-NI']}-2026-12-31") == {"1010-USD": D(-5000), "2450": D(5000)}
    # Its translation reserve (-25,000, Dr) stays in OCI until the foreign operation is disposed of (6.5.14).
    assert "FX_OCI_RELEASE-3-2026-12-31" not in keys(rt) and balance(rt, "3520") == D(25000)
    # FXN-2, never designated, never posted (C = 0): 500,000 x (1.105 - 1.09) = 7,500 received, all P&L.
    assert net(rt, f"FX_SETTLEMENT-{cid['FXN-2']}-2026-12-31") == {"1010-USD": D(7500), "7400": D(-7500)}
    assert balance(rt, "3510") == 0 and balance(rt, "1450") == 0 and balance(rt, "2450") == 0
    assert {ref: s for ref, s in statuses(rt).items() if ref != "AL-1"} == dict.fromkeys(
        ("FXD-CF", "FXD-FP", "FXN-NI", "FXN-2"), ("settled", "settled")
    )
    # The seed's events (§4.4): the four forwards created by the contracts file, settled, two reserves released.
    assert events(rt) == {
        "treasury.fx_contract.created": 4,
        "treasury.fx_contract.settled": 4,
        "treasury.fx_contract.oci_released": 2,
    }
    assert released_to(rt) == {"FX_OCI_RELEASE-1-2026-12-31": "7400", "FX_OCI_RELEASE-2-2026-12-31": "1310"}
    # The GL import of December has every entry, the never-designated NDF's too, and balances.
    journal = journals_report("2026-12")
    assert journal["balanced"] and f"FX_SETTLEMENT-{cid['FXN-2']}-2026-12-31" in {
        r["entry_key"] for r in journal["rows"]
    }
    assert reserve_report("2026-12")["totals"]  # the roll-forward reads the settlement entries
    # Idempotent: the same file again is `existing`, nothing written.
    again = load_settlements_json(settlements(*FX_ORDERS), "s.json")
    assert (len(again.created), len(again.existing)) == (0, 4) and events(rt)["treasury.fx_contract.settled"] == 4

    # 4 Jan: the aluminium's price of 31 Dec is in: proposed 10 x (2,560 - 2,500) = 600, settled
    # (the price confirmed), never posted before: Dr 1010-USD 600, Cr 7400 600.
    assert nightly(rt, JAN)["status"] == "succeeded"
    load_settlements_json(settlements(("AL-1", "2026-12-31", "2560")), "al.json")
    assert net(rt, f"FX_SETTLEMENT-{cid['AL-1']}-2026-12-31") == {"1010-USD": D(600), "7400": D(-600)}
    report = settlements_report("2026-12")
    assert [(r["contract_ref"], r["status"], r["settled_amount"]) for r in report["settlements"]][-1] == (
        "AL-1",
        "settled",
        D(600),
    )


def keys(rt: Ports) -> set[str]:
    with rt.uow() as uow:
        return set(uow.session.scalars(select(JournalEntry.idempotency_key)))


def events(rt: Ports) -> dict[str, Any]:
    with rt.uow() as uow:
        rows = uow.session.scalars(select(AuditEvent.event_type).where(AuditEvent.event_type.like("treasury.%")))
        out: dict[str, int] = {}
        for name in rows:
            out[name] = out.get(name, 0) + 1
        return out


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_missing_fixing_is_an_exception_naming_it(
    runtime: Ports, price_source: InMemoryPriceSource, clock: Clock
) -> None:
    clock.now = price_source.now = datetime(2027, 1, 4, 22, 30, tzinfo=UTC)
    with_hedging(runtime, discount_rates={"USD": D(0)})
    load_contracts_csv(contracts_csv(contract("AL-1", maturity_date="2026-12-31", trade_date="2026-11-02")), "al.csv")
    price_source.add("lme.csv", prices_csv(("LME-AL", "2026-12-30", "2540")))
    run = nightly(runtime, JAN)
    # The D-1 price of 4 Jan (31 Dec) is missing for MTM too; the settlement names its own.
    assert run["status"] == "completed_with_exceptions"
    assert keys(runtime) == set()
    report = settlements_report("2027-01")
    assert report["missing_fixings"] == [
        {"as_of": "2027-01-04", "reason": "AL-1: no fixing price LME-AL of 2026-12-31 (settlement 2026-12-31)"}
    ]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_command_names_each_mistake_on_a_line(embedded_cli: Any, tmp_path: Path) -> None:
    from workers.cli import app

    bad = settlements(("FXD-CF", "2026-12-31", "1.108"), ("FXN-2", "2026-12-31", "1.105"), one="dana")
    (tmp_path / "s.json").write_text(bad, encoding="utf-8")
    refused = embedded_cli.invoke(app, ["load", "settlements", str(tmp_path / "s.json")])
    lines = refused.stderr.strip().splitlines()
    assert refused.exit_code == 2 and len(lines) == 3, refused.stderr
    assert "approver_1: dana settles this contract and may not approve it" in lines[0]
    assert lines[-1] == "hedgeops: s.json: 2 bad settlement(s); nothing loaded"
    # An unknown contract (no proposal): one line, exit 2, nothing written.
    (tmp_path / "u.json").write_text(settlements(("NOPE", "2026-12-31", "1.1")), encoding="utf-8")
    unknown = embedded_cli.invoke(app, ["load", "settlements", str(tmp_path / "u.json")])
    assert unknown.exit_code == 2 and "NOPE 2026-12-31: no proposed settlement" in unknown.stderr
    report = embedded_cli.invoke(app, ["report", "settlements", "--period", "2026-12", "--json"])
    assert (report.exit_code, json.loads(report.stdout)["settlements"]) == (0, [])


def released_to(rt: Ports) -> dict[str, str]:
    with rt.uow() as uow:
        found = uow.session.scalars(
            select(AuditEvent.details).where(AuditEvent.event_type == "treasury.fx_contract.oci_released")
        )
        return {d["entry"]: d["target_account"] for d in found}
