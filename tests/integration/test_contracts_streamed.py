"""A contracts file loaded in parts (tasks.loading.load_contracts_lines): all or nothing
across parts, counts summed over parts, and a file that changes between its two passes."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select

import tasks.loading
from core.contracts import CONTRACT_HEADER
from core.errors import ContractChanged, InvalidInput
from db.models import HedgeContract
from tasks.loading import load_contracts_lines

HEADER = ",".join(CONTRACT_HEADER)


def contract(ref: str, status: str = "active", quantity: str = "125") -> str:
    return f"{ref},commodity_forward,LME-AL,sell,{quantity},mt,2612.00,USD,2026-10-01,2027-03-17,{status}"


def text(*rows: str) -> str:
    return "\n".join([HEADER, *rows]) + "\n"


def lines_of(body: str) -> Any:
    return lambda: io.StringIO(body, newline="")


def stored(db_url: str) -> dict[str, str]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(select(HedgeContract.contract_ref, HedgeContract.status)).all())
    finally:
        engine.dispose()


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(tasks.loading, "CONTRACT_PART_ROWS", 3)
    return 3


def test_counts_are_summed_over_parts(runtime: Any, db_url: str, small_parts: int) -> None:
    first = load_contracts_lines(lines_of(text(*(contract(f"HC-{n}") for n in range(1, 8)))), "a.csv")
    assert (first.rows, first.created, first.existing, first.status_changed) == (7, 7, 0, 0)
    # 8 rows in parts of 3 (3, 3, 2): 5 identical, HC-6 and HC-7 cancelled, HC-8 new.
    again = [contract(f"HC-{n}") for n in range(1, 6)] + [contract("HC-6", "cancelled"), contract("HC-7", "cancelled")]
    second = load_contracts_lines(lines_of(text(*again, contract("HC-8"))), "b.csv")
    assert (second.rows, second.created, second.existing, second.status_changed) == (8, 1, 5, 2)
    active = {f"HC-{n}": "active" for n in (1, 2, 3, 4, 5, 8)}
    assert stored(db_url) == active | {"HC-6": "cancelled", "HC-7": "cancelled"}


def test_a_refused_change_in_a_later_part_rolls_back_the_earlier_parts(
    runtime: Any, db_url: str, small_parts: int
) -> None:
    load_contracts_lines(lines_of(text(contract("HC-9"))), "a.csv")
    # HC-1..HC-6 are new (two parts of 3, flushed), HC-9 changes its quantity in the third part.
    body = text(*(contract(f"HC-{n}") for n in range(1, 7)), contract("HC-9", quantity="126"))
    with pytest.raises(ContractChanged) as refused:
        load_contracts_lines(lines_of(body), "b.csv")
    assert str(refused.value).startswith(
        "contracts refused (a contract may change only its status, and a draft fx_forward its terms); HC-9: "
    )
    assert "quantity" in str(refused.value)
    assert stored(db_url) == {"HC-9": "active"}


def test_a_file_that_changes_between_its_passes_is_refused_whole(runtime: Any, db_url: str) -> None:
    passes: list[str] = [text(contract("HC-1"), contract("HC-2")), text(contract("HC-1"), "HC-2,not,a,row")]

    def lines() -> Iterator[str]:
        return io.StringIO(passes.pop(0) if len(passes) > 1 else passes[0], newline="")

    with pytest.raises(InvalidInput, match=r"c\.csv: changed while it was loaded \(2 good rows, then 1\)"):
        load_contracts_lines(lines, "c.csv")
    assert stored(db_url) == {}


def test_repeated_refs_are_named_with_both_lines_and_nothing_loads(runtime: Any, db_url: str) -> None:
    body = text(contract("HC-1"), contract("HC-2"), contract("HC-1"), contract("HC-2"), contract("HC-3"))
    with pytest.raises(InvalidInput) as bad:
        load_contracts_lines(lines_of(body), "d.csv")
    assert str(bad.value) == "d.csv: 2 bad row(s); nothing loaded"
    assert bad.value.errors == [
        "d.csv:4: contract_ref: HC-1 repeated (first at line 2)",
        "d.csv:5: contract_ref: HC-2 repeated (first at line 3)",
    ]
    engine = create_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(HedgeContract)).scalar_one() == 0
    engine.dispose()
