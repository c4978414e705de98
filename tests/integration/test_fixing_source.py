"""The contract's fixing source (issue 22, point 1; docs/hedge-accounting.md, "Settlement"),
in-process on SQLite and PostgreSQL: a settlement's fixing is read from the contract's
`fixing_source` and from no other source; a missing price of that source is the
`fixing_unavailable` exception naming source, symbol and date; an unknown source refuses the
contracts file.

The book: two NDFs, EUR 1,000,000 sold at K = 1.10 each, settling 31 Dec 2026 (a Thursday),
fixing on the TARGET business day before, 30 Dec: FXN-V fixes on `vendor_csv`, FXN-E states
no source (ECB, the default). EURUSD of 30 Dec: ECB 1.105, the vendor 1.107. The NDF pays
side x N x (F - K) (IFRS 9 3.2.3(a): the derivative's rights settled in cash)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from core.errors import ContractChanged
from db.hedging.settlement_models import SettlementException
from db.models import HedgeContract
from tasks.hedging.settlement import propose_settlements, settlements_report
from tasks.loading import load_contracts_csv, load_prices
from tasks.ports import Ports
from tests.fakes import Clock
from tests.hedging_builders import eurusd_csv, fx_contracts_csv, fx_forward
from workers.adapters.vendor_csv import read_price_file

SETTLES = date(2026, 12, 31)
ECB_RATE, VENDOR_RATE = "1.1050", "1.1070"


def book_csv(vendor_source: str = "vendor_csv") -> str:
    forwards = [fx_forward("FXN-V", settlement_method="ndf"), fx_forward("FXN-E", settlement_method="ndf")]
    header, *rows = fx_contracts_csv(*forwards).splitlines()
    return "\n".join([f"{header},fixing_source", f"{rows[0]},{vendor_source}", f"{rows[1]},"]) + "\n"


def store(tmp_path: Path, source: str, rate: str) -> None:
    path = tmp_path / f"{source}.csv"
    path.write_text(eurusd_csv(("2026-12-30", rate)), encoding="utf-8")
    load_prices(read_price_file(path, source, datetime(2026, 12, 30, 16, 0, tzinfo=UTC), ["EUR*"]))


def propose(rt: Ports) -> list[str]:
    with rt.uow() as uow:
        done = propose_settlements(rt, uow.session, SETTLES, None)
        uow.commit()
    return done.missing


def proposed(rt: Ports) -> dict[str, tuple[D, str, str | None]]:
    lines = settlements_report("2026-12")["settlements"]
    return {line["contract_ref"]: (line["proposed_amount"], line["fixing"], line["fixing_source"]) for line in lines}


@pytest.fixture
def rt(runtime: Ports, clock: Clock) -> Ports:
    clock.now = datetime(2027, 1, 4, 22, 30, tzinfo=UTC)
    load_contracts_csv(book_csv(), "book.csv")
    return runtime


def test_a_contract_fixing_on_a_vendor_source_gets_that_source_price(rt: Ports, tmp_path: Path) -> None:
    store(tmp_path, "ecb", ECB_RATE)
    store(tmp_path, "vendor_csv", VENDOR_RATE)
    assert propose(rt) == []
    # FXN-V: -1 x 1,000,000 x (1.107 - 1.10) = -7,000.00 USD (the vendor's fixing, not the ECB's);
    # FXN-E: -1 x 1,000,000 x (1.105 - 1.10) = -5,000.00 USD (ECB, the default).
    assert proposed(rt) == {
        "FXN-V": (D("-7000.00"), "EURUSD 2026-12-30 1.107 (vendor_csv)", "vendor_csv"),
        "FXN-E": (D("-5000.00"), "EURUSD 2026-12-30 1.105 (ecb)", "ecb"),
    }


@pytest.mark.parametrize(
    ("stored", "rate", "unfixed", "other"),
    [("ecb", ECB_RATE, ("FXN-V", "vendor_csv"), "FXN-E"), ("vendor_csv", VENDOR_RATE, ("FXN-E", "ecb"), "FXN-V")],
)
def test_a_missing_price_of_its_source_is_the_exception_naming_it(
    rt: Ports, tmp_path: Path, stored: str, rate: str, unfixed: tuple[str, str], other: str
) -> None:
    store(tmp_path, stored, rate)
    ref, source = unfixed
    reason = f"{ref}: no fixing price EURUSD of 2026-12-30 from {source} (settlement 2026-12-31)"
    # No fallback: the other source's price of the same date is stored and not taken.
    assert propose(rt) == [reason]
    assert set(proposed(rt)) == {other}
    with rt.uow() as uow:
        [details] = uow.session.scalars(select(SettlementException.details))
    assert (details["reason"], details["fixing_source"], details["symbol"]) == (reason, source, "EURUSD")


def test_a_draft_may_change_its_fixing_source_an_active_one_may_not(runtime: Ports) -> None:
    """A draft's terms are all amendable (seed 004 §3.1), its fixing source too; an active
    forward's are fixed."""
    header, draft, active = fx_contracts_csv(
        fx_forward("FXN-D", status="draft", settlement_method="ndf"), fx_forward("FXN-A", settlement_method="ndf")
    ).splitlines()

    def rows(*lines: str) -> str:
        return "\n".join([f"{header},fixing_source", *lines]) + "\n"

    load_contracts_csv(rows(f"{draft},ecb", f"{active},ecb"), "book.csv")
    loaded = load_contracts_csv(rows(f"{draft},vendor_csv"), "amended.csv")
    assert (loaded.amended, loaded.existing) == (1, 0)
    with pytest.raises(ContractChanged, match="FXN-A: fixing_source changed"):
        load_contracts_csv(rows(f"{active},vendor_csv"), "again.csv")
    with runtime.uow() as uow:
        stored = dict(uow.session.execute(select(HedgeContract.contract_ref, HedgeContract.fixing_source)).all())
    assert stored == {"FXN-D": "vendor_csv", "FXN-A": "ecb"}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_unknown_fixing_source_refuses_the_file(embedded_cli: Any, tmp_path: Path, db_url: str) -> None:
    from sqlalchemy import create_engine

    from workers.cli import app

    (tmp_path / "c.csv").write_text(book_csv("bloomberg"), encoding="utf-8")
    refused = embedded_cli.invoke(app, ["load", "contracts", str(tmp_path / "c.csv")])
    lines = refused.stderr.strip().splitlines()
    assert (refused.exit_code, len(lines)) == (2, 1), refused.stderr
    assert "c.csv:2: fixing_source: bloomberg unknown (known: ecb, vendor_csv)" in lines[0]
    assert lines[0].endswith("; nothing loaded")
    engine = create_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(HedgeContract)).scalar_one() == 0
    engine.dispose()
