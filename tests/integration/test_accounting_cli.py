"""The period lock's and the "no longer expected" commands on a real database: a close is
audited, a reopen needs two distinct people, a bad record refuses its whole file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from db.hedging.journal_models import NoLongerExpected
from db.models import AuditEvent
from tests.hedging_builders import designation, designations_json, fx_contracts_csv, fx_forward, items_json, receivable
from workers.cli import app


def write(tmp_path: Path, name: str, text: str) -> str:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return str(tmp_path / name)


def audit(db_url: str, event_type: str) -> list[AuditEvent]:
    engine = create_engine(db_url)
    with Session(engine) as s:
        found = list(s.scalars(select(AuditEvent).where(AuditEvent.event_type == event_type)))
    engine.dispose()
    return found


class TestPeriods:
    def test_close_then_reopen_by_two(self, embedded_cli: CliRunner, db_url: str) -> None:
        closed = embedded_cli.invoke(app, ["periods", "close", "2026-11", "--by", "ann", "--reason", "month end"])
        assert (closed.exit_code, closed.stdout.strip()) == (0, "period 2026-11 closed by ann")
        again = embedded_cli.invoke(app, ["periods", "close", "2026-11", "--by", "ann", "--reason", "twice"])
        assert (again.exit_code, again.stderr.strip()) == (
            2,
            "hedgeops: close 2026-11 refused: the period is already closed",
        )
        reopened = embedded_cli.invoke(
            app, ["periods", "reopen", "2026-11", "--by", "ann", "--second", "ben", "--reason", "late MTM", "--json"]
        )
        assert reopened.exit_code == 0, reopened.output
        assert json.loads(reopened.stdout) == {"period": "2026-11", "action": "reopen", "by": "ann", "second": "ben"}
        [event] = audit(db_url, "accounting_period_reopened")
        assert (event.actor, event.details["second"], event.details["reason"]) == ("ann", "ben", "late MTM")
        assert len(audit(db_url, "accounting_period_closed")) == 1

    @pytest.mark.parametrize(
        ("second", "why"),
        [
            ([], "a reopen needs a second person (--second)"),
            (
                ["--second", " ANN "],
                "ANN asked to reopen the period and may not approve it: two distinct people are required",
            ),
        ],
    )
    def test_reopen_by_one_person_is_refused(
        self, embedded_cli: CliRunner, db_url: str, second: list[str], why: str
    ) -> None:
        assert embedded_cli.invoke(app, ["periods", "close", "2026-11", "--by", "ann", "--reason", "x"]).exit_code == 0
        refused = embedded_cli.invoke(app, ["periods", "reopen", "2026-11", "--by", "ann", *second, "--reason", "y"])
        assert (refused.exit_code, refused.stderr.strip()) == (2, f"hedgeops: reopen 2026-11 refused: {why}")
        assert audit(db_url, "accounting_period_reopened") == []

    def test_a_bad_period_is_one_line(self, embedded_cli: CliRunner) -> None:
        bad = embedded_cli.invoke(app, ["periods", "close", "2026-13", "--by", "ann", "--reason", "x"])
        assert (bad.exit_code, bad.stderr.strip()) == (
            2,
            "hedgeops: period '2026-13': month 13 is not 01 to 12",
        )


def _designated(cli: CliRunner, tmp_path: Path) -> None:
    forward = fx_forward("FXF-1", trade_date="2026-11-02", entry_price="1.0956", quantity="1000000")
    contracts = write(tmp_path, "c.csv", fx_contracts_csv({**forward, "maturity_date": "2026-12-31"}))
    assert cli.invoke(app, ["load", "contracts", contracts]).exit_code == 0
    assert (
        cli.invoke(app, ["load", "hedged-items", write(tmp_path, "i.json", items_json(receivable("RCV-1")))]).exit_code
        == 0
    )
    designations = write(tmp_path, "d.json", designations_json(designation("HD-1", "FXF-1", "RCV-1")))
    assert cli.invoke(app, ["load", "designations", designations]).exit_code == 0


def nle(**fields: str) -> dict[str, str]:
    return {
        "designation_ref": "HD-1",
        "recorded_by": "dana",
        "reason": "customer cancelled the order",
        "effective_date": "2026-11-30",
        **fields,
    }


class TestNoLongerExpected:
    def test_loaded_once_audited_then_existing(self, embedded_cli: CliRunner, db_url: str, tmp_path: Path) -> None:
        _designated(embedded_cli, tmp_path)
        file = write(tmp_path, "n.json", json.dumps({"no_longer_expected": [nle()]}))
        first = embedded_cli.invoke(app, ["load", "no-longer-expected", file])
        assert (first.exit_code, first.stdout.strip()) == (0, "n.json: 1 records: 1 created, 0 existing")
        again = embedded_cli.invoke(app, ["load", "no-longer-expected", file])
        assert again.stdout.strip() == "n.json: 1 records: 0 created, 1 existing"
        [event] = audit(db_url, "hedge_cash_flows_no_longer_expected")
        assert (event.actor, event.details["reason"]) == ("dana", "customer cancelled the order")

    def test_all_or_nothing(self, embedded_cli: CliRunner, db_url: str, tmp_path: Path) -> None:
        _designated(embedded_cli, tmp_path)
        rows = [nle(), nle(designation_ref="HD-9")]
        refused = embedded_cli.invoke(
            app, ["load", "no-longer-expected", write(tmp_path, "n.json", json.dumps({"no_longer_expected": rows}))]
        )
        assert refused.exit_code == 2
        assert "HD-9: no such designation" in refused.stderr
        assert refused.stderr.strip().endswith("hedgeops: n.json: 1 bad record(s); nothing loaded")
        engine = create_engine(db_url)
        with Session(engine) as s:
            assert s.scalars(select(NoLongerExpected)).all() == []
        engine.dispose()

    def test_a_changed_record_and_a_date_before_designation_are_refused(
        self, embedded_cli: CliRunner, tmp_path: Path
    ) -> None:
        _designated(embedded_cli, tmp_path)
        ok = write(tmp_path, "n.json", json.dumps({"no_longer_expected": [nle()]}))
        assert embedded_cli.invoke(app, ["load", "no-longer-expected", ok]).exit_code == 0
        changed = write(tmp_path, "m.json", json.dumps({"no_longer_expected": [nle(reason="other")]}))
        refused = embedded_cli.invoke(app, ["load", "no-longer-expected", changed])
        assert refused.exit_code == 2
        assert "HD-1: already recorded otherwise (dana, 2026-11-30)" in refused.stderr
        early = write(tmp_path, "e.json", json.dumps({"no_longer_expected": [nle(effective_date="2026-11-01")]}))
        assert (
            "is before its designation date 2026-11-17"
            in embedded_cli.invoke(app, ["load", "no-longer-expected", early]).stderr
        )
