"""The FX forward lifecycle enforced where a status changes (issue 22 point 2, seed 004 §3.1):
designations and their prospective tests move a draft forward, the contracts file makes only
its own steps, a settlement settles; each step audited with its seed §4.4 event, an
amendment with its before/after difference. SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from core.errors import ContractChanged
from db.lifecycle import IllegalTransition, settle_contract
from db.models import AuditEvent, HedgeContract
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
from tests.integration.test_counterparties import CP_A, counterparties_csv
from workers.cli import app

T = "treasury.fx_contract."


def statuses(rt: Ports) -> dict[str, str]:
    with rt.uow() as uow:
        return {
            ref: status for ref, status in uow.session.execute(select(HedgeContract.contract_ref, HedgeContract.status))
        }


def events_of(rt: Ports, ref: str) -> list[tuple[str, dict[str, Any]]]:
    """The audit events of one contract, in order: (type, details)."""
    with rt.uow() as uow:
        cid = uow.session.scalar(select(HedgeContract.id).where(HedgeContract.contract_ref == ref))
        stmt = select(AuditEvent).where(AuditEvent.entity_type == "hedge_contract", AuditEvent.entity_id == str(cid))
        return [(e.event_type, e.details) for e in uow.session.scalars(stmt.order_by(AuditEvent.id))]


@pytest.fixture
def drafts(runtime: Ports) -> Ports:
    """FXF-1 matches RCV-1 in every critical term; FXF-2 matures three months after RCV-2."""
    rt = with_hedging(runtime)
    load_contracts_csv(
        fx_contracts_csv(
            fx_forward("FXF-1", status="draft"), fx_forward("FXF-2", status="draft", maturity_date="2027-03-31")
        ),
        "fx.csv",
    )
    load_hedged_items_json(items_json(receivable("RCV-1"), receivable("RCV-2")), "items.json")
    return rt


class TestDesignationPath:
    def test_a_designation_and_its_prospective_test_move_a_draft(self, drafts: Ports) -> None:
        entries = designations_json(
            designation("HD-1", "FXF-1", "RCV-1", method="critical_terms"),
            designation("HD-2", "FXF-2", "RCV-2", method="critical_terms"),
        )
        notes = load_designations_json(entries, "d.json").notes
        assert notes[1] == "HD-1 v1: FXF-1 draft -> designated -> active"
        assert notes[3] == "HD-2 v1: FXF-2 draft -> designated -> rejected"
        assert statuses(drafts) == {"FXF-1": "active", "FXF-2": "rejected"}
        moves = [(t, d["from"], d["to"], d["via"]) for t, d in events_of(drafts, "FXF-2")[1:]]
        assert moves == [
            (T + "hedge_designated", "draft", "designated", "designation"),
            (T + "effectiveness_tested", "designated", "rejected", "prospective_test"),
        ]
        created, _designated, tested = events_of(drafts, "FXF-2")
        assert created[0] == T + "created"
        assert (tested[1]["result"], tested[1]["prospective_test"]["failed_terms"]) == ("fail", ["maturity"])
        # rejected -> draft (retry) is the file's step; the designation may then be amended
        load_contracts_csv(fx_contracts_csv(fx_forward("FXF-2", status="draft", maturity_date="2027-03-31")), "f.csv")
        assert events_of(drafts, "FXF-2")[-1][0] == T + "amended"
        assert statuses(drafts)["FXF-2"] == "draft"

    def test_a_quantitative_method_rejects_only_a_forward_on_the_items_side(self, drafts: Ports) -> None:
        load_contracts_csv(fx_contracts_csv(fx_forward("FXF-3", status="draft", side="buy")), "fx3.csv")
        load_hedged_items_json(items_json(receivable("RCV-3")), "items3.json")
        entries = designations_json(
            designation("HD-2", "FXF-2", "RCV-2", method="regression"),  # another maturity: the tests judge it
            designation("HD-3", "FXF-3", "RCV-3", method="dollar_offset"),  # bought against a receivable
        )
        load_designations_json(entries, "d.json")
        assert statuses(drafts) == {"FXF-1": "draft", "FXF-2": "active", "FXF-3": "rejected"}


#: Rows the contracts file may not load after `drafts`, and what the refusal says.
REFUSED = [
    ("FXF-1", "designated", "FXF-1: status draft -> designated is made by designation, not by contracts_file"),
    ("FXF-1", "active", "FXF-1: status draft -> active is not an fx_forward lifecycle step"),
    ("FXF-1", "settled", "(from draft: cancelled (contracts_file), designated (designation))"),
    ("FXF-NEW", "settled", "FXF-NEW: status: a new fx_forward is not loaded settled"),
]


class TestContractsFilePath:
    def test_refused_with_both_states_and_nothing_written(self, drafts: Ports) -> None:
        for ref, status, says in REFUSED:
            rows = fx_contracts_csv(fx_forward("FXF-2", status="cancelled"), fx_forward(ref, status=status))
            with pytest.raises(ContractChanged) as refused:
                load_contracts_csv(rows, "bad.csv")
            assert says in str(refused.value)
            assert statuses(drafts) == {"FXF-1": "draft", "FXF-2": "draft"}  # FXF-2's good row rolled back

    def test_a_draft_amendment_records_its_difference(self, drafts: Ports) -> None:
        amended = fx_forward("FXF-1", status="draft", quantity="1200000", entry_price="1.105")
        loaded = load_contracts_csv(fx_contracts_csv(amended), "amend.csv")
        assert (loaded.amended, loaded.status_changed, loaded.existing) == (1, 0, 0)
        kind, details = events_of(drafts, "FXF-1")[-1]
        assert kind == T + "amended"
        assert details["diff"] == {
            "entry_price": {"before": "1.1", "after": "1.105"},
            "quantity": {"before": "1000000", "after": "1200000"},
        }
        load_designations_json(designations_json(designation("HD-1", "FXF-1", "RCV-1")), "d.json")
        with pytest.raises(ContractChanged, match="FXF-1: quantity changed"):  # active: its terms are fixed
            load_contracts_csv(fx_contracts_csv({**amended, "status": "active", "quantity": "1"}), "again.csv")


class TestSettlementPath:
    def test_only_an_active_or_de_designated_forward_settles_once(self, drafts: Ports) -> None:
        load_designations_json(designations_json(designation("HD-1", "FXF-1", "RCV-1")), "d.json")
        with drafts.uow() as uow:
            one, two = uow.session.scalars(select(HedgeContract).order_by(HedgeContract.contract_ref))
            with pytest.raises(IllegalTransition, match="FXF-2: status draft -> settled is not an fx_forward"):
                settle_contract(uow.session, two, now=drafts.clock(), actor="dana", details={})
            settle_contract(uow.session, one, now=drafts.clock(), actor="dana", details={"method": "ndf"})
            with pytest.raises(IllegalTransition, match="FXF-1: status: already settled"):
                settle_contract(uow.session, one, now=drafts.clock(), actor="dana", details={})
            uow.commit()
        kind, details = events_of(drafts, "FXF-1")[-1]
        assert (kind, details["via"], details["method"]) == (T + "settled", "settlement", "ndf")


def test_the_cli_refuses_an_illegal_step_in_one_line(embedded_cli: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text(fx_contracts_csv(fx_forward("FXF-1", status="draft")))
    assert embedded_cli.invoke(app, ["load", "contracts", str(path)]).exit_code == 0
    path.write_text(fx_contracts_csv(fx_forward("FXF-1", status="designated")))
    result = embedded_cli.invoke(app, ["load", "contracts", str(path)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "hedgeops: contracts refused (a contract may change only its status, and a draft fx_forward its terms); "
        "FXF-1: status draft -> designated is made by designation, not by contracts_file "
        "(from draft: cancelled (contracts_file), designated (designation)); nothing loaded"
    ]


def test_the_load_summary_counts_each_row_once(embedded_cli: CliRunner, tmp_path: Path) -> None:
    """A row that changes its status, its terms and takes a counterparty is one changed
    contract of one row (the summary used to add it up three times)."""
    parties = tmp_path / "cp.csv"
    parties.write_text(counterparties_csv(CP_A))
    assert embedded_cli.invoke(app, ["load", "counterparties", str(parties)]).exit_code == 0
    path = tmp_path / "c.csv"
    path.write_text(fx_contracts_csv(fx_forward("FXF-1", status="draft"), fx_forward("FXF-2", status="draft")))
    assert embedded_cli.invoke(app, ["load", "contracts", str(path)]).exit_code == 0
    rows = [fx_forward("FXF-1", status="cancelled", quantity="900000"), fx_forward("FXF-2", status="draft")]
    header = [*rows[0], "counterparty"]
    lines = [",".join(header), ",".join([*rows[0].values(), "CP-A"]), ",".join([*rows[1].values(), ""])]
    path.write_text("\n".join(lines) + "\n")
    result = embedded_cli.invoke(app, ["load", "contracts", str(path)])
    assert (result.exit_code, result.stdout.strip()) == (
        0,
        "c.csv: 2 contracts: 0 created, 1 existing, 1 changed (1 status changed, 1 counterparty set, 1 amended)",
    )
