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


class TestReports:
    """On the shipped ECB history (spot proxy, as test_hedging_cli): HD-1 designated on 2 Jan 2024;
    H = 105,109.49 on 31 Jan after -89,476.47 on 2 Jan, the item the exact opposite (ratio 1)."""

    @pytest.fixture
    def posted(self, embedded_cli: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
        monkeypatch.setenv("HEDGEOPS_DISCOUNT_RATES", '{"USD": "0.05"}')
        monkeypatch.setenv("HEDGEOPS_FX_FORWARD_METHOD", "spot_proxy")
        forward = fx_forward("FXF-1", trade_date="2024-01-02", entry_price="1.0956", quantity="10000000")
        contracts = fx_contracts_csv({**forward, "maturity_date": "2024-12-31"})
        items = items_json(receivable("RCV-1", amount="10000000", exposure_date="2024-12-31"))
        designations = designations_json(designation("HD-1", "FXF-1", "RCV-1", designation_date="2024-01-02"))
        for what, name, text in (("contracts", "c.csv", contracts), ("hedged-items", "i.json", items)):
            assert embedded_cli.invoke(app, ["load", what, write(tmp_path, name, text)]).exit_code == 0
        assert (
            embedded_cli.invoke(app, ["load", "designations", write(tmp_path, "d.json", designations)]).exit_code == 0
        )
        for day in ("2024-01-02", "2024-01-31"):
            run = embedded_cli.invoke(app, ["run", "nightly", "--in-process", "--as-of", day, "--json"])
            assert (run.exit_code, json.loads(run.stdout)["status"]) == (0, "succeeded"), run.output
        return embedded_cli

    def test_journals_balance_and_the_gl_file(self, posted: CliRunner, tmp_path: Path) -> None:
        gl = tmp_path / "gl.csv"
        result = posted.invoke(app, ["report", "journals", "--period", "2024-01", "--csv", str(gl), "--json"])
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        # 2 Jan: the forward's MTM on designation, a liability of 89,476.47, against FX gain/loss;
        # 31 Jan: liability closed and an asset of 105,109.49 opened (Dr 194,585.96), reserve Cr
        # min(|A|, |B|) = 194,585.96, no ineffectiveness: debits 89,476.47 + 194,585.96 = 284,062.43
        assert report["totals"] == {"USD": {"debit": "284062.43", "credit": "284062.43"}}
        assert report["balanced"] is True
        rows = gl.read_text(encoding="utf-8").splitlines()
        assert rows[0].startswith("entry_key,posting_date,account,debit,credit,currency,functional_amount")
        assert rows[-1] == "TOTAL,,,284062.43,284062.43,USD,,,,"
        assert any(r.startswith("FX_REVALUATION-1-2024-01-31,2024-01-31,3510,0,194585.96,USD") for r in rows)
        table = posted.invoke(app, ["report", "journals", "--period", "2024-01"])
        assert table.exit_code == 0 and "USD: debit 284062.43, credit 284062.43" in table.stdout

    def test_reserve_roll_forward(self, posted: CliRunner) -> None:
        result = posted.invoke(app, ["report", "reserve", "--period", "2024-01", "--json"])
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        expected = {
            "reserve": "cash_flow_hedge_reserve",
            "opening": "0",
            "recognised": "194585.96",
            "reclassified_to_pnl": "0",
            "moved_to_cost": "0",
            "closing": "194585.96",
            # the reserve the latest entry's state carries: the movements sum to it
            "carried": "194585.96",
            "reconciled": True,
        }
        assert report["relationships"] == [{"relationship": "HD-1", **expected}]
        assert report["totals"] == [expected]
        later = json.loads(posted.invoke(app, ["report", "reserve", "--period", "2024-02", "--json"]).stdout)
        assert later["totals"][0]["opening"] == later["totals"][0]["closing"] == "194585.96"

    def test_a_rerun_is_existing(self, posted: CliRunner) -> None:
        run = posted.invoke(app, ["run", "postings", "--in-process", "--as-of", "2024-01-31", "--json"])
        summary = json.loads(run.stdout)
        assert (run.exit_code, summary["status"], summary["counts"]["created"], summary["counts"]["existing"]) == (
            0,
            "succeeded",
            0,
            1,
        )


def test_an_incomplete_chart_of_accounts_stops_start_up(
    embedded_cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEDGEOPS_CHART_OF_ACCOUNTS", json.dumps({"cash_flow": {"derivative_asset": "1450"}}))
    result = embedded_cli.invoke(app, ["periods", "close", "2026-11", "--by", "ann", "--reason", "x"])
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(
        "hedgeops: invalid setting HEDGEOPS_CHART_OF_ACCOUNTS: chart of accounts: "
        "missing cash_flow.derivative_liability;"
    )
    assert "missing fair_value.derivative_asset" in line and "Traceback" not in result.output


class TestDeDesignationDate:
    def test_refused_in_one_line_then_audited(self, embedded_cli: CliRunner, db_url: str, tmp_path: Path) -> None:
        _designated(embedded_cli, tmp_path)  # HD-1 designated on 2026-11-17

        def contracts(on: str) -> str:
            forward = fx_forward("FXF-1", trade_date="2026-11-02", entry_price="1.0956", status="de_designated")
            row = {**forward, "maturity_date": "2026-12-31"}
            header = [*row, "de_designated_on"]
            return write(tmp_path, "c2.csv", ",".join(header) + "\n" + ",".join([*row.values(), on]) + "\n")

        early = embedded_cli.invoke(app, ["load", "contracts", contracts("2026-11-10")])
        assert (early.exit_code, early.stderr.strip()) == (
            2,
            "hedgeops: contracts refused (a contract may change only its status, and a draft fx_forward its terms); "
            "FXF-1: de_designated_on: 2026-11-10 is before HD-1's designation date 2026-11-17; nothing loaded",
        )
        assert embedded_cli.invoke(app, ["load", "contracts", contracts("2026-11-20")]).exit_code == 0
        [event] = audit(db_url, "treasury.fx_contract.hedge_de_designated")
        assert (event.details["to"], event.details["effective_date"]) == ("de_designated", "2026-11-20")
        assert (event.details["via"], event.details["diff"]) == (
            "contracts_file",
            {"status": {"before": "active", "after": "de_designated"}},
        )
