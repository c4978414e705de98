"""What a run records, typed (core.run_details and the rooms' parts): the details stored by
the code as it was before the models (stored_run_details.json: real rows, each captured
from the integration test or the demo it names) read back into the models, and the parts
written back give the very same JSON; the rules that read details agree with what the
stored keys say; a version this code does not know is refused."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from core.hedging.run_details import EffectivenessPlan
from core.hedging.valuation_plan import FxValuationPlan
from core.ledger import RunScope, exceptions_error, job_scope, shortfalls
from core.mt5.accounts import CYCLE_JOB_PREFIX, cycle_scope
from core.mt5.cycle_details import CycleDetails
from core.run_details import DetailsPart, MtmPlan, RunRecord, UnknownDetailsVersion, details_version
from core.values import D1Policy

STORED: list[dict[str, Any]] = json.loads((Path(__file__).parent / "stored_run_details.json").read_text())
AS_OF = date(2026, 11, 20)


def parts_of(job: str, details: dict[str, Any]) -> list[DetailsPart | FxValuationPlan]:
    """The parts a run of `job` records, read from its details."""
    shared: list[DetailsPart | FxValuationPlan] = [RunRecord.from_details(details)]
    if job == "mtm":
        return [*shared, MtmPlan.from_details(details), FxValuationPlan.from_details(details)]
    if job == "effectiveness":
        return [*shared, EffectivenessPlan.from_details(details)]
    if job.startswith(CYCLE_JOB_PREFIX):
        return [*shared, CycleDetails.from_details(details)]
    return shared


def ids(rows: list[dict[str, Any]]) -> list[str]:
    return [f"{r['job']}-{r['status']}-{n}" for n, r in enumerate(rows)]


class TestStoredDetails:
    def test_every_job_and_outcome_is_covered(self) -> None:
        jobs = {r["job"].split(":")[0] + ":" + r["status"] for r in STORED}
        assert {"prices:completed_with_exceptions", "mtm:succeeded", "effectiveness:succeeded"} <= jobs
        assert {"nightly:completed_with_exceptions", "mt5_sync:failed", "mt5_sync:succeeded"} <= jobs

    @pytest.mark.parametrize("row", STORED, ids=ids(STORED))
    def test_read_back_and_written_again_they_are_the_same_json(self, row: dict[str, Any]) -> None:
        written: dict[str, Any] = {}
        for part in parts_of(row["job"], row["details"]):
            written |= part.as_details()
        assert written == row["details"]

    @pytest.mark.parametrize("row", STORED, ids=ids(STORED))
    def test_the_rules_read_what_the_keys_say(self, row: dict[str, Any]) -> None:
        details = row["details"]
        record = RunRecord.from_details(details)
        assert shortfalls(details) == len(details.get("price_missing") or []) + len(details.get("failed_sources") or [])
        assert (record.price_missing is None) == ("price_missing" not in details)
        assert [f.source for f in record.failed_sources or []] == [
            f["source"] for f in details.get("failed_sources", [])
        ]
        assert [f.file for f in record.files or []] == [f["file"] for f in details.get("files", [])]
        assert record.failures == details.get("failures")


class TestScopes:
    def test_a_cycle_reads_back_its_scope_and_a_job_its_own(self) -> None:
        [cycle] = [r for r in STORED if r["job"] == "mt5_sync:t2"]
        assert RunScope.of_run("mt5_sync:t2", AS_OF, cycle["details"]) == cycle_scope("t2", AS_OF)
        assert RunScope.of_run("mtm", AS_OF, {"d1_policy": "business"}) == job_scope("mtm", AS_OF)

    def test_a_failed_cycles_error_names_its_stored_failures(self) -> None:
        [cycle] = [r for r in STORED if r["job"] == "mt5_sync:t2"]
        error = exceptions_error("{n} failed: {failures}", 2, cycle["details"])
        assert error.startswith("2 failed: login 6001: initialize failed") and "; login 6002:" in error


class TestParts:
    def test_the_mtm_plan_is_typed(self) -> None:
        [mtm] = [r for r in STORED if r["job"] == "mtm" and r["captured_from"] == "hedgeops demo"]
        plan = MtmPlan.from_details(mtm["details"])
        assert (plan.d1_policy, plan.symbol_calendars, plan.chunk_size) == (D1Policy.BUSINESS, {}, 5000)

    def test_a_cycle_started_without_a_plan_yet(self) -> None:
        cycle = CycleDetails.from_details({"terminal": "t1", "logins": [5001]})
        assert (cycle.terminal, cycle.logins, cycle.accounts) == ("t1", [5001], None)
        assert cycle.as_details() == {"terminal": "t1", "logins": [5001]}  # nothing added that was not there

    def test_a_key_stored_as_null_stays_null_and_an_absent_one_absent(self) -> None:
        assert RunRecord.from_details({"price_missing": None}).as_details() == {"price_missing": None}
        assert RunRecord.from_details({"files": []}).as_details() == {"files": []}
        assert RunRecord().as_details() == {}


class TestVersions:
    @pytest.mark.parametrize(
        ("details", "version"),
        [({}, 1), (None, 1), ({"price_missing": []}, 1), ({"details_version": 1}, 1)],
    )
    def test_absent_means_one(self, details: dict[str, Any] | None, version: int) -> None:
        assert details_version(details) == version

    @pytest.mark.parametrize("version", [2, 0, "1", None])
    def test_a_version_this_code_does_not_know_is_refused(self, version: object) -> None:
        with pytest.raises(UnknownDetailsVersion):
            RunRecord.from_details({"details_version": version, "failures": ["x"]})
        with pytest.raises(UnknownDetailsVersion):
            FxValuationPlan.from_details({"details_version": version})
