"""The hedge-accounting commands on a real database, with the embedded ECB source reading
the shipped history: load hedged items and designations, run the nightly, report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.hedging_builders import designation, designations_json, fx_contracts_csv, fx_forward, items_json, receivable
from workers.cli import app


@pytest.fixture
def cli(embedded_cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("HEDGEOPS_DISCOUNT_RATES", '{"USD": "0.05"}')
    monkeypatch.setenv("HEDGEOPS_FX_FORWARD_METHOD", "spot_proxy")  # the figures below are spot-proxy ones
    return embedded_cli


def write(tmp_path: Path, name: str, text: str) -> str:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return str(tmp_path / name)


def test_load_run_and_report(cli: CliRunner, tmp_path: Path) -> None:
    forward = fx_forward("FXF-1", trade_date="2024-01-02", entry_price="1.0956", quantity="10000000")
    assert (
        cli.invoke(
            app,
            [
                "load",
                "contracts",
                write(tmp_path, "c.csv", fx_contracts_csv({**forward, "maturity_date": "2024-12-31"})),
            ],
        ).exit_code
        == 0
    )
    items = write(tmp_path, "i.json", items_json(receivable("RCV-1", amount="10000000", exposure_date="2024-12-31")))
    loaded = cli.invoke(app, ["load", "hedged-items", items])
    assert (loaded.exit_code, loaded.stdout.strip()) == (0, "i.json: 1 hedged items: 1 created, 0 existing")

    bad = cli.invoke(
        app,
        [
            "load",
            "designations",
            write(
                tmp_path,
                "bad.json",
                designations_json(
                    designation("HD-1", "FXF-1", "RCV-1", designation_date="2024-01-02", approver_2="bob")
                ),
            ),
        ],
    )
    assert bad.exit_code == 2
    assert "approver_2: bob is also approver_1: two distinct approvers are required" in bad.stderr

    good = cli.invoke(
        app,
        [
            "load",
            "designations",
            write(
                tmp_path,
                "d.json",
                designations_json(designation("HD-1", "FXF-1", "RCV-1", designation_date="2024-01-02")),
            ),
        ],
    )
    assert good.exit_code == 0, good.output
    assert "HD-1 v1: prospective critical terms pass" in good.stdout

    for day in ("2024-01-02", "2024-01-31"):  # the ECB source of the default settings reads the shipped history
        run = cli.invoke(app, ["run", "nightly", "--in-process", "--as-of", day, "--json"])
        assert (run.exit_code, json.loads(run.stdout)["status"]) == (0, "succeeded"), run.output

    report = cli.invoke(app, ["report", "effectiveness", "--as-of", "2024-01-31", "--json"])
    assert report.exit_code == 0, report.output
    [line] = json.loads(report.stdout)
    # ΔH = 105,109.49 - (-89,476.47) = 194,585.96, ΔI = -194,585.96: ratio 1 (see test_hedging_ecb)
    assert {k: line[k] for k in ("designation_ref", "version", "method", "outcome", "ratio", "key")} == {
        "designation_ref": "HD-1",
        "version": 1,
        "method": "dollar_offset",
        "outcome": "pass",
        "ratio": "1",
        "key": "EFF:1:1:2024-01-31",
    }
    table = cli.invoke(app, ["report", "effectiveness", "--as-of", "2024-01-31"])
    assert table.exit_code == 0 and "HD-1" in table.stdout and "ratio 1" in table.stdout


def test_a_date_without_tests_reports_designations_not_tested(cli: CliRunner, tmp_path: Path) -> None:
    cli.invoke(app, ["load", "contracts", write(tmp_path, "c.csv", fx_contracts_csv(fx_forward("FXF-1")))])
    cli.invoke(app, ["load", "hedged-items", write(tmp_path, "i.json", items_json(receivable("RCV-1")))])
    cli.invoke(
        app,
        ["load", "designations", write(tmp_path, "d.json", designations_json(designation("HD-1", "FXF-1", "RCV-1")))],
    )
    report = cli.invoke(app, ["report", "effectiveness", "--as-of", "2026-11-18", "--json"])
    assert [(x["designation_ref"], x["outcome"], x["reason"]) for x in json.loads(report.stdout)] == [
        ("HD-1", None, "not tested on this date")
    ]


def test_a_file_that_is_not_a_designations_file_writes_nothing(cli: CliRunner, tmp_path: Path) -> None:
    result = cli.invoke(app, ["load", "designations", write(tmp_path, "i.json", items_json(receivable("R")))])
    assert result.exit_code == 2 and "not a designations file" in result.stderr
