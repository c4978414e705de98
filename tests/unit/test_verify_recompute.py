"""`hedgeops verify` recomputes a large date in processes beside the reader (issue 23 point
5): the same findings, in the same order, as recomputing in the reading process."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from core.canonical import canonical
from core.mtm import value_contract
from core.mtm_results import MtmSnapshot
from core.values import Confidence, Contract, ContractStatus, Instrument, Price, Side
from core.verify import SnapshotToCheck, check_snapshots
from tasks import verify

AS_OF, PRICE_DATE = date(2026, 11, 20), date(2026, 11, 19)


def snapshot(i: int, *, tampered: bool = False, moved: bool = False) -> SnapshotToCheck:
    contract = Contract(
        id=i,
        contract_ref=f"C{i}",
        instrument=Instrument.COMMODITY_FORWARD,
        underlying="LME-AL",
        side=Side.BUY if i % 2 else Side.SELL,
        quantity=Decimal(10 + i % 7),
        unit="mt",
        entry_price=Decimal("2500"),
        currency="USD",
        trade_date=date(2026, 1, 5),
        maturity_date=date(2027, 6, 30),
        status=ContractStatus.ACTIVE,
    )
    price = Price(7, "LME-AL", PRICE_DATE, Decimal("2563.5"), "USD", "mt", "vendor_csv", Confidence.FIRM)
    made = value_contract(contract, AS_OF, PRICE_DATE, price)
    assert isinstance(made, MtmSnapshot)
    payload = canonical(made.payload)
    assert isinstance(payload, dict)
    sha = "0" * 64 if tampered else made.sha256
    # A snapshot stored with another entry price than its contract's now: recomputing differs.
    used = replace(contract, entry_price=Decimal("2400")) if moved else contract
    return SnapshotToCheck(made.key, payload, sha, PRICE_DATE, used, price)


@pytest.fixture
def snapshots() -> list[SnapshotToCheck]:
    return [snapshot(i, tampered=i == 3, moved=i in (8, 41)) for i in range(60)]


class TestRecomputedInProcesses:
    def test_processes_find_what_the_reader_finds_in_the_same_order(
        self, snapshots: list[SnapshotToCheck], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(verify, "BATCH", 7)  # nine batches, several in flight per process
        here = list(verify.recomputed(snapshots, AS_OF, 0, check_snapshots))
        beside = list(verify.recomputed(snapshots, AS_OF, 2, check_snapshots))
        assert beside == here
        assert sum(n for n, _ in beside) == 60
        found = [(f.snapshot_key.split(":")[2], f.problem) for _, batch in beside for f in batch]
        assert found == [("3", "payload_tampered"), ("8", "recomputed_differs"), ("41", "recomputed_differs")]

    @pytest.mark.parametrize(("snapshots_of_date", "cpus", "workers"), [(49_999, 2, 0), (50_000, 2, 1), (10**6, 8, 7)])
    def test_processes_only_where_they_pay(
        self, snapshots_of_date: int, cpus: int, workers: int, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(verify.os, "cpu_count", lambda: cpus)
        assert verify.recompute_workers(snapshots_of_date) == workers
