"""ECB crosses as their own price rows: derived in the price job (and `hedgeops load
prices`) from the stored ECB rows once their batch lands, each naming its legs' price ids,
present only on dates both legs are, idempotent on reruns, and a conflict when a stored
leg no longer gives the stored cross. SQLite and PostgreSQL; every rate by hand."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text, update
from typer.testing import CliRunner

from core.ecb import EcbCrosses
from core.rows import six_places
from db.engine import dispose_all
from db.migrate import upgrade
from db.models import AuditEvent, IdempotencyConflict, SettlementPrice
from tasks.ports import Ports, configure
from tasks.prices import fetch_settlement_prices
from tests import services
from tests.fakes import Clock
from workers.adapters.ecb import EcbFilePriceSource
from workers.cli import app

D = Decimal
AS_OF = date(2024, 4, 3)
MAR27, MAR28, APR02 = date(2024, 3, 27), date(2024, 3, 28), date(2024, 4, 2)
# Newest first, a trailing comma, N/A for no rate: the ECB's own layout. No GBP rate on 2 Apr.
ECB_FILE = (
    "Date,USD,JPY,GBP,\n"
    "2024-04-02,1.0772,163.31,N/A,\n"
    "2024-03-28,1.0811,163.67,0.8551,\n"
    "2024-03-27,1.0830,163.87,0.85735,\n"
)
CROSSES = EcbCrosses(("GBPUSD", "USDEUR"), "ecb")


@pytest.fixture
def ecb_file(tmp_path: Path) -> Path:
    path = tmp_path / "eurofxref-hist.csv"
    path.write_text(ECB_FILE, encoding="utf-8")
    return path


@pytest.fixture
def crosses(runtime: Ports, ecb_file: Path, clock: Clock) -> Ports:
    """The price job with the ECB file as its one source, deriving GBPUSD and USDEUR."""
    rt = replace(
        runtime, price_sources=[EcbFilePriceSource("ecb", ecb_file, None, clock, lookback_days=10)], ecb_crosses=CROSSES
    )
    configure(rt)
    return rt


def fetch() -> dict[str, Any]:
    summary: dict[str, Any] = fetch_settlement_prices.apply_async(kwargs={"as_of": AS_OF.isoformat()}).get()
    return summary


def stored(rt: Ports, source: str) -> dict[tuple[str, date], SettlementPrice]:
    with rt.uow() as uow:
        rows = list(uow.session.scalars(select(SettlementPrice).where(SettlementPrice.source == source)))
        uow.session.expunge_all()
    return {(r.symbol, r.price_date): r for r in rows}


def count(rt: Ports, table: Any) -> int:
    with rt.uow() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(table)) or 0)


class TestDerivedInThePriceJob:
    def test_rates_by_hand_legs_by_id_and_a_rerun_creates_nothing(self, crosses: Ports) -> None:
        first = fetch()
        legs, cross = stored(crosses, "ecb"), stored(crosses, "ecb_cross")
        # 8 ECB rates (USD 3, JPY 3, GBP 2) and 5 crosses (GBPUSD 2, USDEUR 3)
        assert (first["status"], first["counts"]["created"], len(legs), len(cross)) == ("succeeded", 13, 8, 5)
        # GBPUSD = EURUSD / EURGBP at full precision, rounded half-even to 6 dp once:
        #   27 Mar 1.0830 / 0.85735 = 1.26319472...   -> 1.263195
        #   28 Mar 1.0811 / 0.8551  = 1.26429657...   -> 1.264297
        #   2 Apr: no EURGBP, so no GBPUSD
        assert {d: r.price for (s, d), r in cross.items() if s == "GBPUSD"} == {
            MAR27: six_places(D("1.0830") / D("0.85735")),
            MAR28: six_places(D("1.0811") / D("0.8551")),
        }
        assert (cross["GBPUSD", MAR27].price, cross["GBPUSD", MAR28].price) == (D("1.263195"), D("1.264297"))
        # USDEUR = 1 / EURUSD: 1 / 1.0830 = 0.92336103... -> 0.923361; 1 / 1.0811 = 0.92498381... -> 0.924984;
        #   1 / 1.0772 = 0.92833271... -> 0.928333
        assert {d: r.price for (s, d), r in cross.items() if s == "USDEUR"} == {
            MAR27: D("0.923361"),
            MAR28: D("0.924984"),
            APR02: D("0.928333"),
        }
        # provenance: exactly the ids of the two stored legs of the cross's own date (USDEUR's numerator is 1)
        for day in (MAR27, MAR28):
            row = cross["GBPUSD", day]
            assert (row.numerator_price_id, row.denominator_price_id) == (
                legs["EURUSD", day].id,
                legs["EURGBP", day].id,
            )
            assert (row.currency, row.unit, row.confidence, row.file_name, row.request_id) == (
                "USD",
                "GBP",
                "REFERENCE",
                None,
                None,
            )
        for day in (MAR27, MAR28, APR02):
            assert (cross["USDEUR", day].numerator_price_id, cross["USDEUR", day].denominator_price_id) == (
                None,
                legs["EURUSD", day].id,
            )
        assert all((r.numerator_price_id, r.denominator_price_id) == (None, None) for r in legs.values())
        # Easter: as of Tue 2 Apr the D-1 of a cross is Thu 28 Mar (TARGET: no Good Friday, no Easter Monday)
        assert crosses.d1_dates(["GBPUSD"], APR02) == {"GBPUSD": MAR28}

        again = fetch()
        assert (again["status"], again["counts"]["created"], again["counts"]["existing"]) == ("succeeded", 0, 13)
        assert stored(crosses, "ecb_cross").keys() == cross.keys()
        assert count(crosses, IdempotencyConflict) == 0
        with crosses.uow() as uow:
            events = list(
                uow.session.scalars(select(AuditEvent.details).where(AuditEvent.event_type == "price_crosses_derived"))
            )
        assert [(e["created"], e["existing"], e["since"], e["until"]) for e in events] == [
            (5, 0, "2024-03-27", "2024-04-02"),
            (0, 5, "2024-03-27", "2024-04-02"),
        ]


class TestAChangedLeg:
    def test_a_restated_leg_is_the_legs_conflict_and_the_cross_stays(self, crosses: Ports, ecb_file: Path) -> None:
        fetch()
        ecb_file.write_text(ECB_FILE.replace("2024-03-28,1.0811", "2024-03-28,1.0900"), encoding="utf-8")
        again = fetch()
        # the file's new EURUSD of 28 Mar is refused (the stored 1.0811 stays); the crosses come from
        # the stored legs, so they are all existing: 1 conflict, nothing created
        assert (again["status"], again["counts"]["conflicts"], again["counts"]["created"]) == (
            "completed_with_conflicts",
            1,
            0,
        )
        with crosses.uow() as uow:
            keys = list(uow.session.scalars(select(IdempotencyConflict.idempotency_key)))
        assert keys == ["PRICE:EURUSD:2024-03-28:ecb"]
        assert stored(crosses, "ecb_cross")["GBPUSD", MAR28].price == D("1.264297")

    def test_a_stored_leg_changed_behind_the_write_path_makes_its_crosses_conflicts(self, crosses: Ports) -> None:
        fetch()
        with crosses.uow() as uow:
            uow.session.execute(
                update(SettlementPrice)
                .where(
                    SettlementPrice.symbol == "EURUSD",
                    SettlementPrice.price_date == MAR28,
                    SettlementPrice.source == "ecb",
                )
                .values(price=D("1.090000"))
            )
            uow.commit()
        again = fetch()
        # 28 Mar from the stored legs now: GBPUSD 1.09 / 0.8551 = 1.27470471... -> 1.274705, USDEUR 1 / 1.09
        # = 0.91743119... -> 0.917431: both differ from the stored crosses, which stay as they were
        assert (again["status"], again["counts"]["conflicts"], again["counts"]["created"]) == (
            "completed_with_conflicts",
            2,
            0,
        )
        with crosses.uow() as uow:
            refused = {
                c.idempotency_key: c.incoming_payload["price"] for c in uow.session.scalars(select(IdempotencyConflict))
            }
        assert refused == {
            "PRICE:GBPUSD:2024-03-28:ecb_cross": "1.274705",
            "PRICE:USDEUR:2024-03-28:ecb_cross": "0.917431",
        }
        cross = stored(crosses, "ecb_cross")
        assert (cross["GBPUSD", MAR28].price, cross["USDEUR", MAR28].price) == (D("1.264297"), D("0.924984"))


class TestLoadPricesCli:
    def test_load_derives_the_crosses_once(
        self, embedded_cli: CliRunner, ecb_file: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("HEDGEOPS_PRICE_SOURCES", json.dumps([{"name": "ecb", "kind": "ecb_file"}]))
        monkeypatch.setenv("HEDGEOPS_ECB_CROSSES", '["GBPUSD", "USDEUR"]')
        first = embedded_cli.invoke(app, ["load", "prices", "--source", "ecb", str(ecb_file)])
        again = embedded_cli.invoke(app, ["load", "prices", "--source", "ecb", str(ecb_file)])
        assert first.exit_code == 0 and again.exit_code == 0, first.output + again.output
        assert "eurofxref-hist.csv: 8 created" in first.output and "ecb_cross: 5 created, 0 existing" in first.output
        assert "ecb_cross: 0 created, 5 existing, 0 conflicts" in again.output

    def test_crosses_whose_legs_are_not_stored_are_refused_in_one_line(
        self, embedded_cli: CliRunner, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv(
            "HEDGEOPS_PRICE_SOURCES", json.dumps([{"name": "ecb", "kind": "ecb_file", "currencies": ["USD"]}])
        )
        monkeypatch.setenv("HEDGEOPS_ECB_CROSSES", '["GBPUSD"]')
        result = embedded_cli.invoke(app, ["load", "prices", "--source", "ecb"])
        assert result.exit_code == 2 and "ecb_crosses need GBP" in result.output
        assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


@pytest.fixture(params=["sqlite", "pg"])
def at_0006(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of its own migrated to 0006 (before the crosses named their legs by id)."""
    url = f"sqlite:///{tmp_path / 'old.db'}" if request.param == "sqlite" else services.create_pg_database()
    upgrade(url, "0006")
    yield url
    dispose_all()
    if request.param == "pg":
        services.drop_pg_database(url)


def test_migration_0007_names_the_legs_of_crosses_stored_before(at_0006: str) -> None:
    """Crosses stored by the old file-reading source named their legs by text in request_id;
    0007 gives them the ids of the leg rows of their date and source."""
    engine = create_engine(at_0006)
    old = [
        ("EURUSD", "ecb", None),
        ("EURGBP", "ecb", None),
        ("EURUSD", "other", None),
        ("GBPUSD", "ecb_cross", "GBPUSD = EURUSD / EURGBP (ecb rows of the same date)"),
        ("USDEUR", "ecb_cross", "USDEUR = 1 / EURUSD (ecb rows of the same date)"),
    ]
    with engine.begin() as conn:
        for n, (symbol, source, request_id) in enumerate(old):
            conn.execute(
                text(
                    "INSERT INTO settlement_prices (idempotency_key, symbol, price_date, price, currency, unit, "
                    "price_type, "
                    "source, confidence, fetched_at, request_id, payload, payload_sha256, created_at) VALUES "
                    "(:key, :symbol, "
                    "'2024-03-28', '1.000000', 'USD', 'EUR', 'reference', :source, 'REFERENCE', :now, :request_id, "
                    "'{}', "
                    "'x', :now)"
                ),
                {
                    "key": f"k{n}",
                    "symbol": symbol,
                    "source": source,
                    "request_id": request_id,
                    "now": datetime(2024, 3, 28, tzinfo=UTC),
                },
            )
    upgrade(at_0006)
    with engine.connect() as conn:
        ids = {
            (s, src): (i, num, den)
            for i, s, src, num, den in conn.execute(
                text("SELECT id, symbol, source, numerator_price_id, denominator_price_id FROM settlement_prices")
            )
        }
    engine.dispose()
    usd, gbp = ids["EURUSD", "ecb"][0], ids["EURGBP", "ecb"][0]
    assert ids["GBPUSD", "ecb_cross"][1:] == (usd, gbp)  # GBPUSD = EURUSD / EURGBP, the ecb rows (not "other")
    assert ids["USDEUR", "ecb_cross"][1:] == (None, usd)  # USDEUR = 1 / EURUSD
    assert ids["EURUSD", "other"][1:] == (None, None)
