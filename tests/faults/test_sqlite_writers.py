"""Scenario 12 of the fault suite: the embedded SQLite mode with two writing processes at
once. Two writer processes run the `hedgeops` CLI on one SQLite file, ten rounds started
together; in each round each loads a contracts file and a prices file and runs the MTM
job of a date of its own. Then every effect is counted from the database: every loaded
row there once, every run's snapshots there, no duplicate key, no conflict; and no
"database is locked" reached either writer's output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from sqlalchemy import func, select

from db.models import BatchRun, HedgeContract, IdempotencyConflict, MtmException, MtmSnapshot, SettlementPrice
from tests.builders import contract, contracts_csv, prices_csv
from tests.cluster import rows

ROOT = Path(__file__).resolve().parents[2]
ROUNDS, CONTRACTS, SYMBOLS = 10, 200, 50
FIRST_AS_OF = date(2026, 11, 2)
#: Every contract: buy 10 mt of LME-AL at 2500; every D-1 price 2510.125:
#: mtm = +1 * 10 * (2510.125 - 2500) = 101.25 (2 dp), so a wrong snapshot shows.
MTM = Decimal("101.25")


def as_of(writer: int, round_no: int) -> date:
    """Each writer's dates of its own, interleaved: the plain D-1 of one never is another's."""
    return FIRST_AS_OF + timedelta(days=2 * round_no + writer)


def refs(writer: int, round_no: int) -> list[str]:
    return [f"W{writer}-R{round_no:02d}-{i:03d}" for i in range(CONTRACTS)]


def round_files(folder: Path, writer: int, round_no: int) -> list[list[str]]:
    """The round's three commands, and their files: CONTRACTS contracts, the D-1 price of
    LME-AL and SYMBOLS other prices of the writer's own symbols on that date."""
    day = as_of(writer, round_no)
    d1 = (day - timedelta(days=1)).isoformat()
    book = folder / f"contracts-{writer}-{round_no}.csv"
    book.write_text(contracts_csv(*(contract(ref) for ref in refs(writer, round_no))))
    prices = folder / f"prices-{writer}-{round_no}.csv"
    prices.write_text(
        prices_csv(
            ("LME-AL", d1, "2510.125"), *((f"LME-W{writer}S{k:02d}", d1, f"{1000 + k}.5") for k in range(SYMBOLS))
        )
    )
    return [
        ["load", "contracts", str(book)],
        ["load", "prices", str(prices)],
        ["run", "mtm", "--as-of", day.isoformat(), "--json"],
    ]


def start_writer(env: dict[str, str], name: str, logs: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.faults.sqlite_writer"],
        cwd=ROOT,
        env=env,
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=(logs / f"{name}.stderr").open("w"),
    )


def play_round(proc: subprocess.Popen[str], commands: list[list[str]], transcript: list[str]) -> list[int]:
    """Send one round, read the writer's stdout to the round's end; its codes."""
    stdin, stdout = proc.stdin, proc.stdout
    assert stdin is not None and stdout is not None
    stdin.write(json.dumps(commands) + "\n")
    stdin.flush()
    return read_round(stdout, transcript)


def read_round(stdout: IO[str], transcript: list[str]) -> list[int]:
    for line in stdout:
        if line.startswith("@@round "):
            return list(json.loads(line.removeprefix("@@round "))["codes"])
        transcript.append(line)
    raise AssertionError("the writer ended before its round did:\n" + "".join(transcript[-20:]))


def test_12_two_embedded_writers_on_one_sqlite_file(sqlite_url: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEDGEOPS_")}
    env.update(
        HEDGEOPS_DATABASE_URL=sqlite_url,
        HEDGEOPS_PRICE_DROP_DIR=str(tmp_path / "incoming"),
        HEDGEOPS_DROP_SETTLE_SECONDS="0",  # whole files, triggered at once
        HEDGEOPS_D1_POLICY="calendar",
        HEDGEOPS_LOG_FORMAT="json",
        PYTHONUNBUFFERED="1",
    )
    writers = [start_writer(env, f"writer{w}", tmp_path) for w in (0, 1)]
    transcripts: list[list[str]] = [[], []]
    codes: list[tuple[int, int, list[int]]] = []
    try:
        with ThreadPoolExecutor(2) as pool:
            for round_no in range(ROUNDS):  # both writers start each round together
                plays = [
                    pool.submit(play_round, writers[w], round_files(tmp_path, w, round_no), transcripts[w])
                    for w in (0, 1)
                ]
                codes += [(w, round_no, play.result(timeout=120)) for w, play in enumerate(plays)]
        for proc in writers:
            assert proc.stdin is not None
            proc.stdin.close()
            assert proc.wait(timeout=60) == 0
    finally:
        for proc in writers:
            if proc.poll() is None:
                proc.kill()
    output = ["".join(t) + (tmp_path / f"writer{w}.stderr").read_text() for w, t in enumerate(transcripts)]
    for text in output:
        assert "database is locked" not in text.lower() and "Traceback" not in text, text[-3000:]
    assert [c for c in codes if c[2] != [0, 0, 0]] == []
    assert_every_write_once(sqlite_url)
    assert_every_run_there(sqlite_url, [run for t in transcripts for run in mtm_runs(t)])


def mtm_runs(transcript: list[str]) -> list[dict[str, Any]]:
    """The runs `run mtm --json` printed (one JSON object a line, among the log lines)."""
    found = [json.loads(line) for line in transcript if line.startswith("{")]
    return [run for run in found if run.get("job") == "mtm" and "counts" in run]


def assert_every_write_once(url: str) -> None:
    """Every contract and price the writers loaded is there once."""
    loaded = [r for (r,) in rows(url, select(HedgeContract.contract_ref))]
    expected = {ref for w in (0, 1) for n in range(ROUNDS) for ref in refs(w, n)}
    assert len(loaded) == len(expected) == 2 * ROUNDS * CONTRACTS and set(loaded) == expected
    prices = [(s, d) for s, d in rows(url, select(SettlementPrice.symbol, SettlementPrice.price_date))]
    expected_prices = {
        (symbol, as_of(w, n) - timedelta(days=1))
        for w in (0, 1)
        for n in range(ROUNDS)
        for symbol in ("LME-AL", *(f"LME-W{w}S{k:02d}" for k in range(SYMBOLS)))
    }
    assert len(prices) == len(expected_prices) == 2 * ROUNDS * (SYMBOLS + 1) and set(prices) == expected_prices


def assert_every_run_there(url: str, runs: list[dict[str, Any]]) -> None:
    """Twenty MTM runs, each ended `succeeded`; each run's snapshots are the ones its counts
    say, one per key, every one 101.25, and among them every contract its writer loaded
    before it; no exception, no conflict, nothing left running."""

    def count(query: Any) -> int:
        return int(rows(url, query)[0][0])

    assert sorted(r["as_of"] for r in runs) == sorted(as_of(w, n).isoformat() for w in (0, 1) for n in range(ROUNDS))
    stored = {
        i: (s, d)
        for i, s, d in rows(url, select(BatchRun.id, BatchRun.status, BatchRun.as_of_date).where(BatchRun.job == "mtm"))
    }
    assert len(stored) == 2 * ROUNDS and {s for s, _ in stored.values()} == {"succeeded"}
    ids_by_ref = {ref: i for ref, i in rows(url, select(HedgeContract.contract_ref, HedgeContract.id))}
    for run in runs:
        run_id, day = run["batch_run_id"], date.fromisoformat(run["as_of"])
        writer, round_no = next((w, n) for w in (0, 1) for n in range(ROUNDS) if as_of(w, n) == day)
        snapshots = rows(
            url,
            select(MtmSnapshot.object_id, MtmSnapshot.mtm_value, MtmSnapshot.as_of_date).where(
                MtmSnapshot.batch_run_id == run_id
            ),
        )
        objects = {o for o, _, _ in snapshots}
        assert len(snapshots) == len(objects) == run["counts"]["created"] == run["counts"]["processed"]
        assert {(v, d) for _, v, d in snapshots} == {(MTM, day)}
        own = {ids_by_ref[ref] for n in range(round_no + 1) for ref in refs(writer, n)}
        assert own <= objects, f"run {run_id} missed {len(own - objects)} of its writer's contracts"
        assert stored[run_id][1] == day
    snapshots = count(select(func.count()).select_from(MtmSnapshot))
    assert snapshots == count(select(func.count(func.distinct(MtmSnapshot.idempotency_key))))
    print(f"\nscenario 12: {len(runs)} MTM runs, {snapshots} snapshots, {len(ids_by_ref)} contracts, 0 duplicated")
    assert count(select(func.count()).select_from(MtmException)) == 0
    assert count(select(func.count()).select_from(IdempotencyConflict)) == 0
