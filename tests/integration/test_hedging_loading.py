"""Loading hedged items and designation dossiers on SQLite and PostgreSQL: idempotent,
all or nothing, versioned and immutable (PostgreSQL refuses changes), dual authorisation,
the prospective critical-terms check recorded; and the FX forward lifecycle on reload."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import DBAPIError

from core.errors import ContractChanged, InvalidInput
from core.hedging.methods import Band
from db.hedging.models import HedgeDesignation, HedgedItem, HedgeRelationship
from db.lifecycle import settle_contract
from db.models import AuditEvent, HedgeContract
from tasks.hedging.effectiveness import assess_hedge_effectiveness
from tasks.hedging.loading import load_designations_json, load_hedged_items_json
from tasks.loading import load_contracts_csv
from tasks.ports import Ports
from tests.hedging_builders import (
    designation,
    designations_json,
    fx_contracts_csv,
    fx_forward,
    items_json,
    receivable,
    with_hedging,
)


@pytest.fixture
def book(runtime: Ports) -> Ports:
    rt = with_hedging(runtime, materiality_floor=Decimal("2500"))
    load_contracts_csv(
        fx_contracts_csv(fx_forward("FXF-1"), fx_forward("FXF-2", maturity_date="2027-03-31"), fx_forward("FXF-9")),
        "fx.csv",
    )
    settle(rt, "FXF-9")
    load_hedged_items_json(items_json(receivable("RCV-1"), receivable("RCV-2")), "items.json")
    return rt


def settle(rt: Ports, ref: str) -> None:
    """What a settlement does to the contract (db.lifecycle.settle_contract; the file cannot)."""
    with rt.uow() as uow:
        contract = uow.session.scalars(select(HedgeContract).where(HedgeContract.contract_ref == ref)).one()
        settle_contract(uow.session, contract, now=rt.clock(), actor="test", details={"method": "deliverable"})
        uow.commit()


def refused(call: Any, *args: Any) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        call(*args)
    return caught.value.errors


def count(rt: Ports, model: type, *where: Any) -> int:
    with rt.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


class TestHedgedItems:
    def test_a_reload_is_existing_and_a_change_refuses_the_file(self, book: Ports) -> None:
        again = load_hedged_items_json(items_json(receivable("RCV-1"), receivable("RCV-3")), "items.json")
        assert (again.created, again.existing) == (["RCV-3"], ["RCV-1"])
        errors = refused(
            load_hedged_items_json, items_json(receivable("RCV-4"), receivable("RCV-2", amount="900000")), "items.json"
        )
        assert errors == ["RCV-2: amount changed"]
        assert count(book, HedgedItem) == 3  # RCV-4 was not written either

    def test_a_bad_entry_writes_nothing(self, book: Ports) -> None:
        errors = refused(
            load_hedged_items_json, items_json(receivable("RCV-5"), receivable("RCV-6", unit="USD")), "items.json"
        )
        assert errors == ["items.json: hedged_items[1]: unit: USD is not the base currency of EURUSD (EUR)"]
        assert count(book, HedgedItem) == 2


class TestDesignations:
    def test_a_designation_locks_its_parameters_and_records_the_prospective_test(self, book: Ports) -> None:
        loaded = load_designations_json(designations_json(designation("HD-1", "FXF-1", "RCV-1")), "d.json")
        assert loaded.created == ["HD-1 v1"]
        assert loaded.notes == ["HD-1 v1: prospective critical terms pass"]
        with book.uow() as uow:
            dossier = uow.session.scalars(select(HedgeDesignation)).one()
            event = uow.session.scalars(select(AuditEvent).where(AuditEvent.event_type == "hedge_designated")).one()
            # left out of the file, taken from the policy and locked: a later policy change does not move it
            assert (dossier.materiality_floor, dossier.band_min, dossier.regression_window) == (
                Decimal("2500"),
                Decimal("0.80"),
                60,
            )
            # the parameters read back from their columns are those written to them
            columns = HedgeDesignation.params_columns(dossier.params)
            assert columns == {name: getattr(dossier, name) for name in columns}
            assert dossier.params.band == Band(Decimal("0.80"), Decimal("1.25"))
            assert (dossier.hedged_item_rate, dossier.oci_release_method) == (Decimal("1.1"), "recycle_to_pnl")
            assert (dossier.prospective_test["outcome"], dossier.snapshot["item"]["item_ref"]) == ("pass", "RCV-1")
            assert (event.actor, event.details["approvers"]) == ("alice", ["bob", "carol"])

    def test_a_mismatch_is_recorded_not_refused(self, book: Ports) -> None:
        loaded = load_designations_json(
            designations_json(designation("HD-2", "FXF-2", "RCV-2", method="dollar_offset")), "d.json"
        )
        assert loaded.notes == ["HD-2 v1: prospective critical terms fail (mismatched: maturity)"]

    def test_reload_is_existing_and_a_change_needs_the_next_version(self, book: Ports) -> None:
        v1 = designation("HD-1", "FXF-1", "RCV-1")
        load_designations_json(designations_json(v1), "d.json")
        assert load_designations_json(designations_json(v1), "d.json").existing == ["HD-1 v1"]
        errors = refused(load_designations_json, designations_json({**v1, "hedge_ratio": "0.9"}), "d.json")
        assert errors == ["HD-1 v1: version 1 is immutable (hedge_ratio changed): an amendment is version 2"]
        amended = load_designations_json(
            designations_json(
                v1, {**v1, "version": 2, "hedge_ratio": "0.9", "amendment_reason": "part of the receivable collected"}
            ),
            "d.json",
        )
        assert (amended.existing, amended.created) == (["HD-1 v1"], ["HD-1 v2"])
        with book.uow() as uow:
            view = uow.session.execute(
                text("SELECT version, is_current, superseded_by_version FROM hedge_designation_status ORDER BY version")
            )
            assert [(v, bool(c), s) for v, c, s in view] == [(1, False, 2), (2, True, None)]
            assert (
                uow.session.scalar(
                    select(func.count())
                    .select_from(AuditEvent)
                    .where(AuditEvent.event_type == "hedge_designation_amended")
                )
                == 1
            )

    def test_after_the_instrument_settled_a_reload_is_existing_but_nothing_new_is_designated(self, book: Ports) -> None:
        v1 = designation("HD-1", "FXF-1", "RCV-1")
        load_designations_json(designations_json(v1), "d.json")
        settle(book, "FXF-1")
        assert load_designations_json(designations_json(v1), "d.json").existing == ["HD-1 v1"]
        errors = refused(
            load_designations_json, designations_json({**v1, "version": 2, "amendment_reason": "late"}), "d.json"
        )
        assert errors == ["HD-1 v2: contract_ref: FXF-1 is settled and can no longer be designated"]

    @pytest.mark.parametrize(
        ("entry", "problem"),
        [
            (designation("HD-1", "FXF-1", "RCV-1", version=3, amendment_reason="x"), "HD-1 v3: HD-1 is new: its first"),
            (designation("HD-1", "NOPE", "RCV-1"), "HD-1 v1: contract_ref: no contract NOPE"),
            (designation("HD-1", "FXF-1", "NOPE"), "HD-1 v1: item_ref: no hedged item NOPE"),
            (designation("HD-1", "FXF-9", "RCV-1"), "HD-1 v1: contract_ref: FXF-9 is settled"),
            (designation("HD-1", "FXF-1", "RCV-1", designation_date="2027-01-04"), "HD-1 v1: designation_date:"),
        ],
    )
    def test_refusals_name_the_version(self, book: Ports, entry: dict[str, Any], problem: str) -> None:
        errors = refused(load_designations_json, designations_json(entry), "d.json")
        assert len(errors) == 1 and errors[0].startswith(problem)
        assert count(book, HedgeRelationship) == 0

    def test_dual_authorisation_is_refused_with_a_clear_error(self, book: Ports) -> None:
        errors = refused(
            load_designations_json,
            designations_json(
                designation("HD-1", "FXF-1", "RCV-1"), designation("HD-2", "FXF-2", "RCV-2", approver_1="alice")
            ),
            "d.json",
        )
        assert errors == [
            "d.json: designations[1] (HD-2 v1): approver_1: alice designated this hedge and may not approve it"
        ]
        assert count(book, HedgeRelationship) == 0  # HD-1, good, is not written either

    def test_the_legs_of_a_designation_are_fixed_and_not_shared(self, book: Ports) -> None:
        load_designations_json(designations_json(designation("HD-1", "FXF-1", "RCV-1")), "d.json")
        errors = refused(
            load_designations_json,
            designations_json(
                designation("HD-1", "FXF-2", "RCV-1", version=2, amendment_reason="swap"),
                designation("HD-3", "FXF-1", "RCV-2"),
            ),
            "d.json",
        )
        assert errors == [
            "HD-1 v2: a designation's instrument and hedged item are fixed: designate another relationship",
            "HD-3 v1: FXF-1 or RCV-2 is already in designation HD-1",
        ]


@pytest.mark.parametrize("db_url", ["pg"], indirect=True)
@pytest.mark.parametrize(
    "table", ["hedged_items", "hedge_relationships", "hedge_designations", "effectiveness_results"]
)
@pytest.mark.parametrize("statement", ["UPDATE {table} SET created_at = now()", "DELETE FROM {table}"])
def test_postgresql_refuses_changes(book: Ports, db_url: str, table: str, statement: str) -> None:
    load_designations_json(designations_json(designation("HD-1", "FXF-1", "RCV-1")), "d.json")
    assess_hedge_effectiveness.apply(kwargs={"as_of": "2026-11-17"}).get()  # no MTM yet: insufficient_data
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            before = conn.scalar(text(f"SELECT count(*) FROM {table}"))
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement.format(table=table)))
        with engine.connect() as conn:
            assert conn.scalar(text(f"SELECT count(*) FROM {table}")) == before >= 1
    finally:
        engine.dispose()


def test_fx_forward_statuses_follow_the_lifecycle(book: Ports) -> None:
    load_contracts_csv(fx_contracts_csv(fx_forward("FXF-1", status="de_designated")), "fx.csv")
    with pytest.raises(ContractChanged, match="FXF-1: status de_designated -> draft is not an fx_forward lifecycle"):
        load_contracts_csv(fx_contracts_csv(fx_forward("FXF-1", status="draft")), "fx.csv")
    with book.uow() as uow:
        assert (
            uow.session.scalar(select(HedgeContract.status).where(HedgeContract.contract_ref == "FXF-1"))
            == "de_designated"
        )
