"""Independent price verification (issue 22, point 4; seed 004 §3.2.3, Lock 8), on SQLite and
PostgreSQL: each D-1 price compared with its verification source's price of the same date;
a variance above the threshold is flagged (audit event, run exception) and, with blocking
on, holds the contracts it values (`price_unverified`) until a person decides.

IFRS 9 B5.2.2 / IFRS 13.72-90: a derivative is measured at fair value from observable market
inputs; the variance control checks the input before it values anything."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core.errors import InvalidInput
from core.price_checks import PriceChecks
from db.models import AuditEvent, MtmException, MtmSnapshot, PriceDecision, PriceVariance, SettlementPrice
from tasks.loading import load_contracts_csv
from tasks.price_checks import load_price_decisions_csv
from tasks.prices import fetch_settlement_prices
from tasks.valuation import compute_mtm_snapshots
from tests.builders import contract, contracts_csv
from tests.fakes import Clock, InMemoryPriceSource
from tests.hedging_builders import fx_contracts_csv, fx_forward, with_hedging
from workers.cli import app

D = Decimal
AS_OF = "2026-11-20"  # a Friday; the D-1 date of EURUSD (TARGET) and LME-AL is Thursday 19 November
D1 = "2026-11-19"
HEADER = "symbol,price_date,price,currency,unit,price_type\n"
DECISIONS = "symbol,price_date,source,decision,price,decided_by,reason\n"


def eurusd(rate: str, price_type: str) -> str:
    """A EURUSD rate: USD per 1 EUR, as the ECB gives it."""
    return HEADER + f"EURUSD,{D1},{rate},USD,EUR,{price_type}\n"


def lme_al(price: str, price_type: str) -> str:
    return HEADER + f"LME-AL,{D1},{price},USD,mt,{price_type}\n"


@pytest.fixture
def sources(runtime: Any, clock: Clock) -> dict[str, InMemoryPriceSource]:
    """Two sources: the vendor (FIRM: valuation takes its price) and the ECB (REFERENCE)."""
    found = {name: InMemoryPriceSource(name=name, now=clock.now) for name in ("vendor_csv", "ecb", "lme_check")}
    object.__setattr__(runtime, "price_sources", list(found.values()))
    with_hedging(runtime)  # FX forwards valued at the spot (no forward points), USD discounting past 90 days
    return found


def checks(runtime: Any, blocks: bool = False, **by_symbol: D) -> None:
    verifiers = {"EURUSD": "ecb", "LME-*": "lme_check"}
    object.__setattr__(runtime, "price_checks", PriceChecks(verifiers, D(1), by_symbol, blocks))


def forward() -> None:
    """Sell EUR 1,000,000 forward at 1.100000 USD, 41 days to run (no discounting)."""
    load_contracts_csv(fx_contracts_csv(fx_forward("FXF-1")), "forwards.csv")


def prices_job() -> dict[str, Any]:
    return dict(fetch_settlement_prices.apply(kwargs={"as_of": AS_OF}).get())


def mtm_job() -> dict[str, Any]:
    return dict(compute_mtm_snapshots.apply(kwargs={"as_of": AS_OF}).get())


def events(runtime: Any, kind: str) -> list[AuditEvent]:
    with runtime.uow() as uow:
        found = list(uow.session.scalars(select(AuditEvent).where(AuditEvent.event_type == kind)))
        uow.session.expunge_all()
        return found


def outcomes(runtime: Any) -> tuple[list[str], list[D]]:
    """The MTM exceptions' reasons and the snapshots' values of the as-of date."""
    with runtime.uow() as uow:
        reasons = list(uow.session.scalars(select(MtmException.reason).order_by(MtmException.id)))
        values = list(uow.session.scalars(select(MtmSnapshot.mtm_value).order_by(MtmSnapshot.id)))
    return reasons, values


class TestVendorAgainstEcb:
    def test_a_2pct_variance_is_flagged_with_both_figures(
        self, runtime: Any, sources: dict[str, InMemoryPriceSource]
    ) -> None:
        checks(runtime)
        forward()
        sources["vendor_csv"].add("v.csv", eurusd("1.0710", "official"))
        sources["ecb"].add("ecb.csv", eurusd("1.0500", "reference"))
        summary = prices_job()
        assert (summary["status"], summary["counts"]["exceptions"]) == ("completed_with_exceptions", 1)
        [event] = events(runtime, "treasury.fx_contract.pricing_variance")
        # variance = |p - v| / v = |1.0710 - 1.0500| / 1.0500 = 0.0210 / 1.0500 = 0.02 (2%) > 0.01
        assert (D(event.details["price"]), D(event.details["verification_price"])) == (D("1.071"), D("1.05"))
        assert (D(event.details["variance"]), D(event.details["threshold"])) == (D("0.02"), D("0.01"))
        assert (event.details["price_source"], event.details["verification_source"]) == ("vendor_csv", "ecb")
        assert event.entity_id == f"PRICE:EURUSD:{D1}:vendor_csv" and event.details["blocked"] is False
        # Blocking off: the flagged price still values the forward.
        # mtm = side * notional * (market - forward) = -1 * 1,000,000 * (1.0710 - 1.1000) = 29,000.00 USD
        mtm_job()
        assert outcomes(runtime) == ([], [D("29000.00")])

    def test_a_half_pct_variance_is_not_flagged(self, runtime: Any, sources: dict[str, InMemoryPriceSource]) -> None:
        checks(runtime)
        forward()
        # variance = |1.05525 - 1.05| / 1.05 = 0.00525 / 1.05 = 0.005 (0.5%) <= 0.01
        sources["vendor_csv"].add("v.csv", eurusd("1.05525", "official"))
        sources["ecb"].add("ecb.csv", eurusd("1.0500", "reference"))
        assert prices_job()["status"] == "succeeded"
        assert events(runtime, "treasury.fx_contract.pricing_variance") == []


class TestBlocking:
    def test_unverified_until_accepted_then_valued(self, runtime: Any, sources: dict[str, InMemoryPriceSource]) -> None:
        checks(runtime, blocks=True)
        forward()
        sources["vendor_csv"].add("v.csv", eurusd("1.0710", "official"))
        sources["ecb"].add("ecb.csv", eurusd("1.0500", "reference"))
        prices_job()
        mtm_job()
        assert outcomes(runtime) == (["price_unverified"], [])
        again = prices_job()  # still open: an exception again, the event once
        assert (again["status"], len(events(runtime, "treasury.fx_contract.pricing_variance"))) == (
            "completed_with_exceptions",
            1,
        )
        loaded = load_price_decisions_csv(DECISIONS + f"EURUSD,{D1},vendor_csv,accept,,ann,checked with ICE\n", "d.csv")
        assert (loaded.accepted, loaded.replaced) == (1, 0)
        [accepted] = events(runtime, "price_variance_accepted")
        assert (accepted.actor, accepted.details["reason"]) == ("ann", "checked with ICE")
        # After acceptance: mtm = -1 * 1,000,000 * (1.0710 - 1.1000) = 29,000.00 USD
        mtm_job()
        assert outcomes(runtime) == (["price_unverified"], [D("29000.00")])
        assert prices_job()["status"] == "succeeded"  # decided: no longer an exception

    def test_a_replaced_price_values_the_contracts(self, runtime: Any, sources: dict[str, InMemoryPriceSource]) -> None:
        checks(runtime, blocks=True)
        forward()
        sources["vendor_csv"].add("v.csv", eurusd("1.0710", "official"))
        sources["ecb"].add("ecb.csv", eurusd("1.0500", "reference"))
        prices_job()
        text = DECISIONS + f"EURUSD,{D1},vendor_csv,replace,1.0505,ann,vendor rate stale\n"
        assert load_price_decisions_csv(text, "d.csv").replaced == 1
        assert load_price_decisions_csv(text, "d.csv").existing == 1  # the same file again: nothing new
        # mtm = -1 * 1,000,000 * (1.0505 - 1.1000) = 49,500.00 USD, at the person's price
        mtm_job()
        assert outcomes(runtime) == ([], [D("49500.00")])
        with runtime.uow() as uow:
            manual = uow.session.scalars(select(SettlementPrice).where(SettlementPrice.source == "manual")).one()
            assert (manual.price, manual.currency, manual.unit, manual.file_name) == (
                D("1.0505"),
                "USD",
                "EUR",
                "d.csv",
            )
            snapshot = uow.session.scalars(select(MtmSnapshot)).one()
            assert snapshot.price_id == manual.id

    def test_commodity_forwards_wait_too_in_either_valuation(
        self, runtime: Any, sources: dict[str, InMemoryPriceSource]
    ) -> None:
        """PostgreSQL values commodity forwards in the database: a held price values none there."""
        checks(runtime, blocks=True)
        load_contracts_csv(contracts_csv(contract("C-1"), contract("C-2", side="sell")), "c.csv")
        # variance = |2614.77 - 2563.50| / 2563.50 = 51.27 / 2563.50 = 0.02 (2%)
        sources["vendor_csv"].add("v.csv", lme_al("2614.77", "cash_settlement"))
        # A second vendor's reference price (REFERENCE: the check, never the valuation's choice).
        sources["lme_check"].add("c.csv", lme_al("2563.50", "reference"))
        prices_job()
        mtm_job()
        assert outcomes(runtime) == (["price_unverified", "price_unverified"], [])
        load_price_decisions_csv(DECISIONS + f"LME-AL,{D1},vendor_csv,accept,,ann,LME confirmed\n", "d.csv")
        mtm_job()
        # mtm = side * 10 mt * (2614.77 - 2500.00): buy +1,147.70, sell -1,147.70 USD
        assert sorted(outcomes(runtime)[1]) == [D("-1147.70"), D("1147.70")]


class TestDecisionsFile:
    def test_a_file_naming_an_unflagged_price_writes_nothing(
        self, runtime: Any, sources: dict[str, InMemoryPriceSource]
    ) -> None:
        checks(runtime, blocks=True)
        forward()
        sources["vendor_csv"].add("v.csv", eurusd("1.0710", "official"))
        sources["ecb"].add("ecb.csv", eurusd("1.0500", "reference"))
        prices_job()
        text = DECISIONS + f"EURUSD,{D1},vendor_csv,accept,,ann,fine\n" + f"EURUSD,{D1},ecb,accept,,ann,not flagged\n"
        with pytest.raises(InvalidInput) as refused:
            load_price_decisions_csv(text, "d.csv")
        assert refused.value.errors == [
            f"d.csv:3: no flagged price EURUSD {D1} from ecb (the prices run's failures list them)"
        ]
        with runtime.uow() as uow:
            assert uow.session.scalars(select(PriceDecision)).all() == []
            assert len(uow.session.scalars(select(PriceVariance)).all()) == 1
        assert events(runtime, "price_variance_accepted") == []

    @pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # refused before any query: one database will do
    def test_the_command_refuses_a_bad_file_in_one_line(self, embedded_cli: Any, tmp_path: Path) -> None:
        path = tmp_path / "d.csv"
        path.write_text(DECISIONS + f"EURUSD,{D1},vendor_csv,replace,,ann,no price\n")
        result = embedded_cli.invoke(app, ["load", "price-decisions", str(path)])
        assert result.exit_code == 2
        assert "a replace decision needs the price" in result.stderr
        assert result.stderr.strip().splitlines()[-1] == "hedgeops: d.csv: 1 bad row(s); nothing loaded"

    @pytest.mark.parametrize(
        ("name", "value", "says"),
        [
            (
                "HEDGEOPS_PRICE_VERIFICATION",
                '{"EURUSD": "ecbb"}',
                "EURUSD: ecbb is not a configured price source (configured: ecb, vendor_csv)",
            ),
            ("HEDGEOPS_PRICE_VARIANCE_PCT", "1%", "HEDGEOPS_PRICE_VARIANCE_PCT: Input should be a valid decimal"),
            ("HEDGEOPS_PRICE_VARIANCE_PCT_BY_SYMBOL", '{"LME-AL": "0"}', "LME-AL: 0: a threshold is a percentage"),
        ],
    )
    @pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
    def test_a_misspelt_setting_is_one_line_and_exit_2(
        self, embedded_cli: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, value: str, says: str
    ) -> None:
        monkeypatch.setenv(name, value)
        path = tmp_path / "d.csv"
        path.write_text(DECISIONS)
        result = embedded_cli.invoke(app, ["load", "price-decisions", str(path)])
        [line] = result.stderr.strip().splitlines()
        assert (result.exit_code, says in line, line.startswith("hedgeops: invalid setting")) == (2, True, True)
