"""Counterparties on SQLite and PostgreSQL: the load (all or nothing, idempotent, audited),
the contracts' counterparty column, the nightly's exposure per netting set worked out by
hand, a limit breach alerted once per date, and the CLI through the real `hedgeops`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core.contracts import CONTRACT_HEADER
from core.counterparties import COUNTERPARTY_HEADER
from core.errors import ContractChanged, InvalidInput
from db import ledger
from db.models import AuditEvent, Counterparty, CounterpartyExposure, HedgeContract
from tasks.counterparties import BREACH_ALERTED, LIMIT_BREACHED, counterparty_report, load_counterparties_csv
from tasks.loading import load_contracts_csv
from tasks.nightly import run_nightly
from tasks.ports import Ports, configure
from tasks.prices import fetch_settlement_prices
from tasks.summary import run_summary
from tasks.valuation import compute_mtm_snapshots
from tests.builders import contracts_csv, prices_csv
from tests.fakes import InMemoryPriceSource

D = Decimal
D1 = date(2026, 11, 20)  # a Friday: the D-1 of LME-AL (England and Wales) and of ECB rates (TARGET) is the 19th
HEDGEOPS = str(Path(sys.executable).parent / "hedgeops")


def counterparties_csv(*rows: str) -> str:
    return ",".join(COUNTERPARTY_HEADER) + "\n" + "\n".join(rows) + "\n"


CP_A = "CP-A,Bank A AG,7LTWFZYICNSX8D621K86,ISDA-A,NS-A,20000.00,USD,SSI-A"
CP_B = "CP-B,Bank B SA,KGCEPHLVVKVRZYO1T647,ISDA-B,NS-B,2000.00,EUR,SSI-B"
CP_C = "CP-C,Broker C Ltd,8156001A2C01D4CADE80,,,5000.00,GBP,SSI-C"


def with_counterparty(csv_text: str, parties: dict[str, str]) -> str:
    """The contracts file with a `counterparty` column (empty for refs not in `parties`)."""
    lines = csv_text.splitlines()
    out = [lines[0] + ",counterparty"]
    for line in lines[1:]:
        out.append(f"{line},{parties.get(line.split(',')[0], '')}")
    return "\n".join(out) + "\n"


class RecordingNotifier:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, object]]] = []

    def notify(self, kind: str, message: str, details: dict[str, object]) -> None:
        self.sent.append((kind, message, details))


def events(rt: Ports, event_type: str) -> list[AuditEvent]:
    with rt.uow() as uow:
        stmt = select(AuditEvent).where(AuditEvent.event_type == event_type).order_by(AuditEvent.id)
        found = list(uow.session.scalars(stmt))
        uow.session.expunge_all()
        return found


class TestTheLoad:
    def test_idempotent_and_audited(self, runtime: Ports) -> None:
        first = load_counterparties_csv(counterparties_csv(CP_A, CP_B), "cp.csv")
        again = load_counterparties_csv(counterparties_csv(CP_A, CP_B), "cp.csv")
        assert (first.created, again.created, again.existing) == (["CP-A", "CP-B"], [], ["CP-A", "CP-B"])
        assert [e.entity_id for e in events(runtime, "counterparty_created")] == ["CP-A", "CP-B"]

    def test_a_change_is_applied_with_before_and_after(self, runtime: Ports) -> None:
        load_counterparties_csv(counterparties_csv(CP_A), "cp.csv")
        raised = CP_A.replace("20000.00", "25000.00")
        loaded = load_counterparties_csv(counterparties_csv(raised), "cp2.csv")
        assert loaded.changed == ["CP-A"]
        (event,) = events(runtime, "counterparty_changed")
        assert (event.entity_id, event.details["before"], event.details["after"]) == (
            "CP-A",
            {"credit_limit": "20000"},
            {"credit_limit": "25000"},
        )

    def test_a_bad_row_or_a_changed_lei_loads_nothing(self, runtime: Ports) -> None:
        with pytest.raises(InvalidInput) as bad:
            load_counterparties_csv(counterparties_csv(CP_A, CP_B.replace("T647", "T648")), "cp.csv")
        assert bad.value.errors == ["cp.csv:3: lei: KGCEPHLVVKVRZYO1T648 fails its check digits (ISO 7064 MOD 97-10)"]
        load_counterparties_csv(counterparties_csv(CP_A), "cp.csv")
        other = CP_A.replace("7LTWFZYICNSX8D621K86", "8156001A2C01D4CADE80")
        with pytest.raises(InvalidInput) as changed:
            load_counterparties_csv(counterparties_csv(CP_B, other), "cp.csv")
        assert changed.value.errors == [
            "CP-A: lei changed (7LTWFZYICNSX8D621K86 stored): another entity is another counterparty"
        ]
        with runtime.uow() as uow:  # CP-B, good, was not loaded either
            assert list(uow.session.scalars(select(Counterparty.counterparty_id))) == ["CP-A"]


BOOK = contracts_csv(
    # side x quantity x (2563.50 - entry), USD
    {"contract_ref": "HC-A1", "quantity": "100", "entry_price": "2400.00"},  # +100 x 163.50 = 16350.00
    {"contract_ref": "HC-A2", "side": "sell", "quantity": "50", "entry_price": "2500.00"},  # -50 x 63.50 = -3175.00
    {"contract_ref": "HC-A3", "quantity": "20", "entry_price": "2600.00"},  # +20 x -36.50 = -730.00
    {"contract_ref": "HC-B1", "quantity": "200", "entry_price": "2500.00"},  # +200 x 63.50 = 12700.00
    {"contract_ref": "HC-B2", "side": "sell", "quantity": "100", "entry_price": "2463.50"},  # -100 x 100 = -10000.00
    {"contract_ref": "HC-C1", "quantity": "10", "entry_price": "2500.00"},  # +10 x 63.50 = 635.00
    {"contract_ref": "HC-C2", "side": "sell", "quantity": "10", "entry_price": "2500.00"},  # -635.00
    {"contract_ref": "HC-X", "quantity": "1000", "entry_price": "1000.00"},  # no counterparty: in no exposure
)
PARTIES = {"HC-A1": "CP-A", "HC-A2": "CP-A", "HC-A3": "CP-A", "HC-B1": "CP-B", "HC-B2": "CP-B"}
PARTIES |= {"HC-C1": "CP-C", "HC-C2": "CP-C"}
PRICES = prices_csv(("LME-AL", "2026-11-19", "2563.50"))
# ECB reference rates of the 19th, per 1 EUR
ECB = "symbol,price_date,price,currency,unit,price_type\nEURUSD,2026-11-19,1.080000,USD,EUR,reference\n"
ECB += "EURGBP,2026-11-19,0.860000,GBP,EUR,reference\n"


@pytest.fixture
def book(runtime: Ports, price_source: InMemoryPriceSource) -> tuple[Ports, RecordingNotifier]:
    notifier = RecordingNotifier()
    rt = replace(runtime, notifier=notifier)
    configure(rt)
    load_counterparties_csv(counterparties_csv(CP_A, CP_B, CP_C), "cp.csv")
    load_contracts_csv(with_counterparty(BOOK, PARTIES), "contracts.csv")
    price_source.add("lme.csv", PRICES)
    price_source.add("ecb.csv", ECB)
    return rt, notifier


def nightly(rt: Ports, day: date) -> dict[str, Any]:
    started = run_nightly.apply_async(kwargs={"as_of": day.isoformat()}).get()
    with rt.uow() as uow:
        return run_summary(ledger.get_run(uow.session, started["batch_run_id"]))


class TestTheContractsColumn:
    def test_contracts_name_their_counterparty(self, book: tuple[Ports, RecordingNotifier]) -> None:
        rt, _ = book
        with rt.uow() as uow:
            rows = uow.session.execute(
                select(HedgeContract.contract_ref, Counterparty.counterparty_id)
                .outerjoin(Counterparty, Counterparty.id == HedgeContract.counterparty_id)
                .order_by(HedgeContract.contract_ref)
            )
            assert {ref: cp for ref, cp in rows} == {**PARTIES, "HC-X": None}

    def test_an_unknown_counterparty_refuses_the_file_naming_the_rows(self, runtime: Ports) -> None:
        load_counterparties_csv(counterparties_csv(CP_A), "cp.csv")
        text = with_counterparty(BOOK, {"HC-A1": "CP-A", "HC-B1": "CP-NOPE", "HC-C1": "CP-GONE"})
        with pytest.raises(ContractChanged) as refused:
            load_contracts_csv(text, "contracts.csv")
        assert str(refused.value).endswith(
            "HC-B1: counterparty CP-NOPE unknown (hedgeops load counterparties first); "
            "HC-C1: counterparty CP-GONE unknown (hedgeops load counterparties first)"
        )
        with runtime.uow() as uow:
            assert uow.session.scalars(select(HedgeContract.id)).first() is None

    def test_unknown_counterparties_in_two_parts_are_all_named_and_nothing_loads(
        self, runtime: Ports, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import tasks.loading

        monkeypatch.setattr(tasks.loading, "CONTRACT_PART_ROWS", 3)  # 8 rows: parts of 3, 3 and 2
        load_counterparties_csv(counterparties_csv(CP_A), "cp.csv")
        text = with_counterparty(BOOK, {"HC-A1": "CP-NOPE", "HC-C2": "CP-GONE", "HC-X": "CP-A"})
        with pytest.raises(ContractChanged) as refused:
            load_contracts_csv(text, "contracts.csv")
        assert str(refused.value).endswith(
            "HC-A1: counterparty CP-NOPE unknown (hedgeops load counterparties first); "
            "HC-C2: counterparty CP-GONE unknown (hedgeops load counterparties first)"
        )
        with runtime.uow() as uow:  # the good parts were flushed, then rolled back with the rest
            assert uow.session.scalars(select(HedgeContract.id)).first() is None

    def test_a_file_without_the_column_still_loads_and_keeps_the_counterparty(
        self, book: tuple[Ports, RecordingNotifier]
    ) -> None:
        rt, _ = book
        assert "counterparty" not in CONTRACT_HEADER and "counterparty" not in BOOK.splitlines()[0]
        loaded = load_contracts_csv(BOOK, "old-format.csv")
        assert (loaded.existing, loaded.created, loaded.counterparty_set) == (8, 0, 0)
        with rt.uow() as uow:
            stmt = select(HedgeContract.counterparty_id).where(HedgeContract.contract_ref == "HC-A1")
            assert uow.session.scalar(stmt) is not None

    def test_a_contract_without_one_takes_one_and_never_another(self, runtime: Ports) -> None:
        load_counterparties_csv(counterparties_csv(CP_A, CP_B), "cp.csv")
        load_contracts_csv(BOOK, "old.csv")
        taken = load_contracts_csv(with_counterparty(BOOK, {"HC-A1": "CP-A"}), "new.csv")
        assert (taken.counterparty_set, taken.existing) == (1, 7)
        assert [e.details["counterparty"] for e in events(runtime, "contract_amended")] == ["CP-A"]
        with pytest.raises(ContractChanged, match=r"HC-A1: counterparty changed \(CP-A stored\)"):
            load_contracts_csv(with_counterparty(BOOK, {"HC-A1": "CP-B"}), "novated.csv")


class TestTheExposure:
    def test_per_netting_set_by_hand(self, book: tuple[Ports, RecordingNotifier]) -> None:
        rt, _ = book
        run = nightly(rt, D1)
        lines = {line["counterparty_id"]: line for line in counterparty_report(D1)}
        # NS-A, USD: net = 16350.00 - 3175.00 - 730.00 = 12445.00; exposure = max(0, net) = 12445.00
        #   utilisation = 12445.00 / 20000.00 = 0.62225 -> 0.6222 (half-even); headroom = 7555.00
        a = lines["CP-A"]
        assert (a["net_mtm"], a["exposure"], a["utilisation"], a["headroom"], a["breached"]) == (
            D("12445.00"),
            D("12445.00"),
            D("0.6222"),
            D("7555.00"),
            False,
        )
        # NS-B, EUR at USDEUR = 1 / EURUSD = 1 / 1.08 = 0.925926 (6 dp):
        #   12700.00 x 0.925926 = 11759.2602; -10000.00 x 0.925926 = -9259.26; net = 2500.0002 -> 2500.00
        #   exposure 2500.00 > limit 2000.00: utilisation 1.2500, headroom -500.00, a breach
        b = lines["CP-B"]
        assert (b["net_mtm"], b["exposure"], b["utilisation"], b["headroom"], b["breached"]) == (
            D("2500.00"),
            D("2500.00"),
            D("1.2500"),
            D("-500.00"),
            True,
        )
        # CP-C has no netting set, GBP at USDGBP = EURGBP / EURUSD = 0.86 / 1.08 = 0.796296:
        #   net = 635.00 - 635.00 = 0.00, but exposure = max(0, 635 x 0.796296) + max(0, -505.64796) = 505.65
        c = lines["CP-C"]
        assert (c["net_mtm"], c["exposure"], c["utilisation"], c["netting_set"]) == (
            D("0.00"),
            D("505.65"),
            D("0.1011"),
            None,
        )
        assert (a["contracts"], b["contracts"], c["contracts"]) == (3, 2, 2)  # HC-X counts nowhere
        # the breach is an exception of the nightly (its steps had none), named in its failures
        assert run["status"] == "completed_with_exceptions" and run["counts"]["exceptions"] == 1
        with rt.uow() as uow:
            stored = ledger.get_run(uow.session, run["batch_run_id"])
            assert stored.details["failures"] == ["limit breached: CP-B"]
            steps = ledger.children(uow.session, stored.id)
            assert {s.status for s in steps} == {"succeeded"}

    def test_a_breach_is_alerted_once_per_date(self, book: tuple[Ports, RecordingNotifier]) -> None:
        rt, notifier = book
        nightly(rt, D1)
        again = nightly(rt, D1)  # a rerun of the date: the same exposures, no second alert
        assert [(kind, details["counterparty_id"], details["as_of"]) for kind, _, details in notifier.sent] == [
            (LIMIT_BREACHED, "CP-B", "2026-11-20")
        ]
        assert "CP-B over its credit limit on 2026-11-20: exposure 2500.00 EUR, limit 2000.00" in notifier.sent[0][1]
        assert [e.entity_id for e in events(rt, BREACH_ALERTED)] == ["CP-B:2026-11-20"]
        assert len(events(rt, LIMIT_BREACHED)) == 2  # the breach itself, audited by each run
        assert again["counts"]["exceptions"] == 1
        with rt.uow() as uow:
            assert len(list(uow.session.scalars(select(CounterpartyExposure.id)))) == 3

    def test_a_standalone_mtm_run_computes_the_exposure_and_the_nightly_alerts_nothing_again(
        self, book: tuple[Ports, RecordingNotifier]
    ) -> None:
        rt, notifier = book
        fetch_settlement_prices.apply(kwargs={"as_of": D1.isoformat()}).get()
        started = compute_mtm_snapshots.apply(kwargs={"as_of": D1.isoformat()}).get()
        with rt.uow() as uow:
            mtm = ledger.get_run(uow.session, started["batch_run_id"])
            # 8 contracts valued + 3 exposures; the breach of CP-B its one exception
            assert (mtm.status, mtm.processed, mtm.created, mtm.exceptions) == ("completed_with_exceptions", 11, 11, 1)
            assert mtm.details["failures"] == ["limit breached: CP-B"]
        b = next(line for line in counterparty_report(D1) if line["counterparty_id"] == "CP-B")
        assert (b["exposure"], b["breached"]) == (D("2500.00"), True)  # 2,700 USD x 0.925926, by hand above
        assert [details["counterparty_id"] for _, _, details in notifier.sent] == ["CP-B"]
        nightly(rt, D1)  # the same date again, through the nightly: its exposures exist, no second alert
        nightly(rt, D1)
        assert [details["counterparty_id"] for _, _, details in notifier.sent] == ["CP-B"]
        assert [e.entity_id for e in events(rt, BREACH_ALERTED)] == ["CP-B:2026-11-20"]

    def test_an_undelivered_alert_is_sent_by_the_next_run(self, book: tuple[Ports, RecordingNotifier]) -> None:
        rt, notifier = book

        class Down:
            def notify(self, kind: str, message: str, details: dict[str, object]) -> None:
                raise ConnectionError("webhook down")

        configure(replace(rt, notifier=Down()))
        nightly(rt, D1)
        assert events(rt, BREACH_ALERTED) == []
        configure(rt)
        nightly(rt, D1)
        assert [details["counterparty_id"] for _, _, details in notifier.sent] == ["CP-B"]


class TestWhatGoesWrong:
    def test_a_new_limit_after_the_nightly_is_a_conflict_on_a_rerun(
        self, book: tuple[Ports, RecordingNotifier]
    ) -> None:
        rt, _ = book
        assert nightly(rt, D1)["status"] == "completed_with_exceptions"
        load_counterparties_csv(counterparties_csv(CP_A.replace("20000.00", "10000.00")), "cp.csv")
        again = nightly(rt, D1)
        assert (again["status"], again["counts"]["conflicts"]) == ("completed_with_conflicts", 1)
        with rt.uow() as uow:  # nothing overwritten
            stmt = (
                select(CounterpartyExposure.credit_limit)
                .join(Counterparty)
                .where(Counterparty.counterparty_id == "CP-A")
            )
            assert uow.session.scalar(stmt) == D("20000.00")

    def test_a_missing_d1_rate_is_an_exception_not_a_guess(self, book: tuple[Ports, RecordingNotifier]) -> None:
        rt, notifier = book
        load_counterparties_csv(counterparties_csv(CP_B.replace("EUR,SSI-B", "JPY,SSI-B")), "cp.csv")
        run = nightly(rt, D1)
        line = next(line for line in counterparty_report(D1) if line["counterparty_id"] == "CP-B")
        assert (line["exposure"], line["breached"], line["missing_rates"]) == (None, False, ["EURJPY"])
        assert run["status"] == "completed_with_exceptions" and notifier.sent == []
        with rt.uow() as uow:
            failures = ledger.get_run(uow.session, run["batch_run_id"]).details["failures"]
        assert failures == ["CP-B: no D-1 rate EURJPY"]


def run_hedgeops(db_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEDGEOPS_")}
    env.update(HEDGEOPS_DATABASE_URL=db_url, HEDGEOPS_LOG_LEVEL="WARNING", HEDGEOPS_PRICE_DROP_DIR=str(tmp_path))
    return subprocess.run([HEDGEOPS, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)


class TestTheCommands:
    def test_load_and_report_through_the_entry_point(
        self, book: tuple[Ports, RecordingNotifier], db_url: str, tmp_path: Path
    ) -> None:
        rt, _ = book
        nightly(rt, D1)
        good = tmp_path / "cp.csv"
        good.write_text(
            counterparties_csv(
                CP_A, CP_B, CP_C, CP_C.replace("CP-C", "CP-D").replace("8156001A2C01D4CADE80", "506700GE1G29325QX363")
            )
        )
        loaded = run_hedgeops(db_url, tmp_path, "load", "counterparties", str(good))
        assert (loaded.returncode, loaded.stdout.strip()) == (
            0,
            "cp.csv: 4 counterparties: 1 created, 3 existing, 0 changed",
        ), loaded.stderr
        bad = tmp_path / "bad.csv"
        bad.write_text(counterparties_csv(CP_A.replace("K86", "K68")))
        refused = run_hedgeops(db_url, tmp_path, "load", "counterparties", str(bad))
        assert refused.returncode == 2 and "Traceback" not in refused.stderr
        assert refused.stderr.splitlines() == [
            "  bad.csv:2: lei: 7LTWFZYICNSX8D621K68 fails its check digits (ISO 7064 MOD 97-10)",
            "hedgeops: bad.csv: 1 bad row(s); nothing loaded",
        ]
        missing = run_hedgeops(db_url, tmp_path, "load", "counterparties", str(tmp_path / "none.csv"))
        assert (missing.returncode, missing.stderr.strip()) == (2, f"hedgeops: {tmp_path / 'none.csv'}: no such file")

        table = run_hedgeops(db_url, tmp_path, "report", "counterparties", "--as-of", "2026-11-20")
        assert table.returncode == 0, table.stderr
        row_b = next(line for line in table.stdout.splitlines() if "CP-B" in line)
        assert all(cell in row_b for cell in ("NS-B", "2500", "2000", "EUR", "125.00%", "-500", "BREACH"))
        as_json = run_hedgeops(db_url, tmp_path, "report", "counterparties", "--as-of", "2026-11-20", "--json")
        found = {line["counterparty_id"]: line for line in json.loads(as_json.stdout)}
        assert sorted(found) == ["CP-A", "CP-B", "CP-C"]  # CP-D was loaded after the nightly
        assert (found["CP-A"]["exposure"], found["CP-B"]["breached"]) == ("12445", True)
        bad_day = run_hedgeops(db_url, tmp_path, "report", "counterparties", "--as-of", "20-11-2026")
        assert (bad_day.returncode, bad_day.stderr.strip()) == (
            2,
            "hedgeops: --as-of '20-11-2026': expected YYYY-MM-DD",
        )
