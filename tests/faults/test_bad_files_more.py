"""Scenario 11 of the fault suite, the rest of it: the date window from the settings in
every loader; a 50 MB price file (bounded memory, one error per bad row, nothing written
when it turns out not to be a price file at its end) and 50 MB of garbage; MT5 scenario
files refused at start-up; hostile answers of an HTTP JSON price source. Through the
real `hedgeops` CLI on SQLite and PostgreSQL, rows counted before and after."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from db.hedging.models import HedgeDesignation, HedgedItem
from db.models import AuditEvent, BatchRun, HedgeContract, SettlementPrice
from tasks.loading import load_contracts_csv
from tests.builders import contract, contracts_csv, prices_csv
from tests.cluster import BIN, rows
from tests.hedging_builders import designation, designations_json, items_json, receivable

WINDOW = {"HEDGEOPS_DATE_MIN": "2020-01-01", "HEDGEOPS_DATE_MAX": "2030-12-31"}
SAID = "is outside the date window 2020-01-01..2030-12-31"
TABLES = (HedgeContract, SettlementPrice, HedgedItem, HedgeDesignation, BatchRun, AuditEvent)


def base_env(db_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEDGEOPS_")}
    env.update(
        HEDGEOPS_DATABASE_URL=db_url,
        HEDGEOPS_PRICE_DROP_DIR=str(tmp_path / "incoming"),
        HEDGEOPS_DROP_SETTLE_SECONDS="0",  # whole files, triggered at once
        HEDGEOPS_LOG_LEVEL="WARNING",
        **extra,
    )
    return env


def hedgeops(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "hedgeops"), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def counts(url: str) -> dict[str, int]:
    return {t.__tablename__: int(rows(url, select(func.count()).select_from(t))[0][0]) for t in TABLES}


def changed(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {name: after[name] - before[name] for name in after if after[name] != before[name]}


def write(folder: Path, name: str, text: str) -> str:
    (folder / name).write_text(text)
    return str(folder / name)


# -- the date window (HEDGEOPS_DATE_MIN, HEDGEOPS_DATE_MAX) ------------------------------------


def test_11_the_date_window_setting_refuses_rows_outside_it_in_every_loader(
    db_url: str, tmp_path: Path, embedded_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the window 2020-01-01..2030-12-31 set, a date one day outside it is refused row by
    row in contracts, prices, hedged items and designations (expected positions have no
    date). Each refused date is inside the default window (1990..2199): the setting refused
    it. The CLI in-process (the settings read from the environment as a process reads them);
    the price JSON source below goes through a real process."""
    from workers.cli import app

    for name, value in WINDOW.items():
        monkeypatch.setenv(name, value)
    book = write(
        tmp_path,
        "c.csv",
        contracts_csv(
            contract("A", maturity_date="2030-12-31"),
            contract("B", trade_date="2019-12-31"),
            contract("C", maturity_date="2031-01-01"),
        ),
    )
    items = write(tmp_path, "i.json", items_json(receivable("R1", exposure_date="2031-06-30")))
    dossiers = write(tmp_path, "d.json", designations_json(designation("D1", "A", "R1", designation_date="2019-06-01")))
    before = counts(db_url)
    for file, kind, said in (
        (book, "contracts", ["c.csv:3: trade_date: 2019-12-31 " + SAID, "c.csv:4: maturity_date: 2031-01-01 " + SAID]),
        (items, "hedged-items", ["hedged_items[0]: exposure_date: 2031-06-30 " + SAID]),
        (dossiers, "designations", ["designations[0] (D1 v1): designation_date: 2019-06-01 " + SAID]),
    ):
        done = embedded_cli.invoke(app, ["load", kind, file])
        assert done.exit_code == 2, done.output  # an exception would be exit 1
        assert all(line in done.output for line in said), done.output
    assert counts(db_url) == before
    prices = write(tmp_path, "p.csv", prices_csv(("LME-AL", "2026-11-19", "2510"), ("LME-CU", "2019-12-31", "8000")))
    done = embedded_cli.invoke(app, ["load", "prices", prices])
    assert done.exit_code == 1 and f"rejected p.csv:3: price_date: 2019-12-31 {SAID}" in done.output, done.output
    assert [s for (s,) in rows(db_url, select(SettlementPrice.symbol))] == ["LME-AL"]
    assert changed(before, counts(db_url)) == {"settlement_prices": 1, "audit_events": 1}  # the price file's


def test_11_an_ecb_file_refuses_a_date_outside_the_window(
    db_url: str, tmp_path: Path, embedded_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ECB reference-rate file is a loader too: a line dated outside the window is a
    rejected row with its reason, the lines inside it land (each rate its own row)."""
    from workers.cli import app

    for name, value in WINDOW.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(
        "HEDGEOPS_PRICE_SOURCES",
        json.dumps([{"name": "ecb", "kind": "ecb_file", "symbols": ["EUR*"], "currencies": ["USD", "GBP"]}]),
    )
    ecb = write(
        tmp_path,
        "eurofxref-hist.csv",
        "Date,USD,GBP,\n2024-03-28,1.0811,0.85510,\n2019-12-31,1.1234,0.8508,\n0001-01-01,1.1,0.9,\n",
    )
    before = counts(db_url)
    done = embedded_cli.invoke(app, ["load", "prices", "--source", "ecb", ecb])
    assert done.exit_code == 1, done.output  # rejected rows; an exception would be a traceback
    assert f"rejected eurofxref-hist.csv:3: Date: 2019-12-31 {SAID}" in done.output, done.output
    assert f"rejected eurofxref-hist.csv:4: Date: 0001-01-01 {SAID}" in done.output, done.output
    assert sorted(rows(db_url, select(SettlementPrice.symbol, SettlementPrice.price_date))) == [
        ("EURGBP", datetime(2024, 3, 28).date()),
        ("EURUSD", datetime(2024, 3, 28).date()),
    ]
    assert changed(before, counts(db_url)) == {"settlement_prices": 2, "audit_events": 1}


def test_11_a_price_json_source_refuses_a_row_outside_the_window(
    db_url: str, tmp_path: Path, runtime: Any, answers: tuple[str, list[str]]
) -> None:
    url, queue = answers
    env = base_env(
        db_url,
        tmp_path,
        HEDGEOPS_PRICE_SOURCES=json.dumps(
            [{"name": "metals_api", "kind": "http_json", "url": url, "symbols": ["LME-*"], "retries": 0}]
        ),
        **WINDOW,
    )
    load_contracts_csv(contracts_csv(contract("A")), "c.csv")  # LME-AL wanted for D-1 2026-11-19
    queue.append(json.dumps({"prices": [price("2026-11-19", "2510"), price("2019-12-31", "2400")]}))
    done = hedgeops(env, "run", "prices", "--in-process", "--as-of", "2026-11-20", "--json")
    assert done.returncode == 5 and json.loads(done.stdout)["status"] == "completed_with_exceptions", done.stderr
    assert [d for (d,) in rows(db_url, select(SettlementPrice.price_date))] == [datetime(2026, 11, 19).date()]
    [details] = [
        d for (d,) in rows(db_url, select(AuditEvent.details).where(AuditEvent.event_type == "price_file_ingested"))
    ]
    assert details["rejected_rows"] == [f"metals_api:2026-11-19:2: price_date: 2019-12-31 {SAID}"]


# -- a 50 MB price file, and 50 MB of garbage --------------------------------------------------

#: Wide rows (a note column of 1,900 characters: a vendor's free text, ignored): 50 MB in
#: 26,000 rows, two passes of which take seconds; a million short rows take a minute a pass here.
NOTE = "n" * 1900
BAD_ROWS = {  # a row -> the reason the CLI must print for it
    "LME-S01,2026-10-01,abc,USD,mt,cash_settlement,": "price: not a plain decimal number: 'abc'",
    "LME-S02,2026-10-02,２５１０,USD,mt,cash_settlement,": "price: not a plain decimal number: '２５１０'",
    "LME-S03,2026-10-03,2510,USD,mt,cash_settlement,a\x00b": "note: control character U+0000 refused",
    "LME-S04,0001-01-01,2510,USD,mt,cash_settlement,": "price_date: 0001-01-01 is outside the date window",
}


def big_price_file(path: Path, spoiled_end: bool = False) -> dict[int, str]:
    """About 50 MB: 600 distinct (symbol, date) prices (LME-S00..S19, 2026-10-01..30), each
    given 43 times, exactly; the four BAD_ROWS spread through it. Their line numbers -> reasons."""
    block = "".join(
        f"LME-S{s:02d},2026-10-{d:02d},{2500 + s}.125,USD,mt,cash_settlement,{NOTE}\n"
        for s in range(20)
        for d in range(1, 31)
    )
    bad = list(BAD_ROWS.items())
    expected: dict[int, str] = {}
    line = 1
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("symbol,price_date,price,currency,unit,price_type,note\n")
        for repeat in range(43):
            out.write(block)
            line += 600
            if repeat in (0, 20, 21, 42):
                row, reason = bad.pop(0)
                out.write(row + "\n")
                line += 1
                expected[line] = reason
    if spoiled_end:
        with path.open("ab") as out:
            out.write(b"LME-S05,2026-10-05,2510,USD,mt,cash_settlement,\xff\xfe\n")
    return expected


def measured(env: dict[str, str], *args: str) -> tuple[int, str, int]:
    """(exit code, stderr, peak RSS in MiB) of one `hedgeops` process."""
    err = Path(env["HEDGEOPS_PRICE_DROP_DIR"]).parent / "stderr.txt"
    with err.open("w") as sink:
        proc = subprocess.Popen([str(BIN / "hedgeops"), *args], env=env, stdout=subprocess.DEVNULL, stderr=sink)
        _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, err.read_text(), usage.ru_maxrss // 1024


def test_11_a_50mb_price_file_streams_in_bounded_memory_one_error_per_bad_row(db_url: str, tmp_path: Path) -> None:
    env = base_env(db_url, tmp_path)
    expected = big_price_file(tmp_path / "big.csv")
    assert (tmp_path / "big.csv").stat().st_size > 50_000_000
    small = write(tmp_path, "small.csv", prices_csv(("LME-AL", "2026-11-19", "2510")))
    code, _, baseline = measured(env, "load", "prices", small)
    assert code == 0
    before = counts(db_url)
    code, stderr, peak = measured(env, "load", "prices", str(tmp_path / "big.csv"))
    print(f"\n50 MB price file: peak RSS {peak} MiB, a one-row file's {baseline} MiB")
    rejected = [line for line in stderr.splitlines() if line.startswith("  rejected ")]
    assert code == 1 and "Traceback" not in stderr, stderr[-2000:]
    assert len(rejected) == 4 and all(f"big.csv:{n}: {why}" in stderr for n, why in expected.items()), rejected
    assert changed(before, counts(db_url)) == {"settlement_prices": 600, "audit_events": 1}
    # Holding the file's text alone would add 50 MiB: the file is read a row at a time, twice.
    assert peak < baseline + 40, (peak, baseline)


def test_11_a_50mb_file_spoiled_at_its_end_writes_nothing(db_url: str, tmp_path: Path) -> None:
    """Its last line is not UTF-8: the first pass finds it before any part is written."""
    env = base_env(db_url, tmp_path)
    big_price_file(tmp_path / "big.csv", spoiled_end=True)
    before = counts(db_url)
    code, stderr, _ = measured(env, "load", "prices", str(tmp_path / "big.csv"))
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "big.csv: not UTF-8 text" in lines[0], stderr[-2000:]
    assert counts(db_url) == before


def test_11_fifty_mb_of_garbage_is_one_line_and_nothing_written(db_url: str, tmp_path: Path) -> None:
    """50 MB of random bytes (a seeded generator: the same file every run) and 50 MB of text
    on one line: one line on stderr, exit 2, nothing written."""
    import random

    env = base_env(db_url, tmp_path)
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(random.Random(11).randbytes(50 * 1024 * 1024))
    one_line = Path(write(tmp_path, "one-line.csv", "symbol," + "x" * 50_000_000))
    before = counts(db_url)
    # The other whole-file loaders (hedged items, designations, expected positions) read
    # their file as contracts do (workers.cli.common.read_text_file).
    for kind, path in (("contracts", garbage), ("prices", garbage), ("prices", one_line)):
        done = hedgeops(env, "load", kind, str(path))
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("hedgeops: "), (
            kind,
            done.stderr[-2000:],
        )
    assert counts(db_url) == before


# -- JSON files of any shape ------------------------------------------------------------------

HUGE = "9" * 5000  # json refuses an integer of more than 4,300 digits with a bare ValueError


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("hedged-items", '{"hedged_items": [{"item_ref": "R1", "amount": ' + HUGE + "}]}"),
        ("designations", '{"designations": [{"designation_ref": "D1", "version": ' + HUGE + "}]}"),
    ],
)
def test_11_a_number_json_cannot_read_is_one_line(kind: str, text: str, db_url: str, tmp_path: Path) -> None:
    env = base_env(db_url, tmp_path)
    before = counts(db_url)
    done = hedgeops(env, "load", kind, write(tmp_path, "huge.json", text))
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1 and "huge.json: not JSON (Exceeds" in lines[0], done.stderr[-2000:]
    assert counts(db_url) == before


@pytest.mark.parametrize(
    ("name", "text", "said"),
    [
        ("nested", "[" * 100_000 + "]" * 100_000, "not JSON (nested too deeply)"),
        ("huge-number", '{"warn_drawdown_pct": ' + HUGE + "}", "not JSON (Exceeds the limit"),
    ],
)
def test_11_a_bad_guard_replay_policy_file_is_one_line(
    name: str, text: str, said: str, sqlite_url: str, tmp_path: Path
) -> None:
    env = base_env(sqlite_url, tmp_path)
    done = hedgeops(
        env,
        "guard",
        "replay",
        "--account",
        "1",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-02",
        "--policy",
        write(tmp_path, f"{name}.json", text),
    )
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1 and said in lines[0], done.stderr[-2000:]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
ENTRY_KEYS = st.sampled_from(
    [
        "item_ref",
        "kind",
        "underlying",
        "amount",
        "unit",
        "currency",
        "exposure_date",
        "description",
        "designation_ref",
        "version",
        "contract_ref",
        "designation_date",
        "method",
        "documentation",
        "designated_by",
        "symbol",
        "price_date",
        "price",
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(ENTRY_KEYS, JSON_VALUES, max_size=10), JSON_VALUES)
def test_11_any_json_entry_is_a_row_or_an_error_never_a_traceback(entry: dict[str, Any], anything: Any) -> None:
    """Entries of every shape, with the loaders' own field names, and any JSON document:
    each JSON reader answers rows and errors (or one NotAFileOfThisKind), never raises else."""
    from core.errors import NotAFileOfThisKind
    from core.hedging.dossier import parse_designations
    from core.hedging.items import parse_hedged_items
    from workers.adapters.http_json import HttpJsonPriceSource

    source = HttpJsonPriceSource("m", "http://127.0.0.1:9/", ["LME-*"], lambda: datetime(2026, 11, 20, tzinfo=UTC))
    for text in (
        json.dumps({"hedged_items": [entry]}),
        json.dumps({"designations": [entry]}),
        json.dumps({"prices": [entry]}),
        json.dumps(anything),
    ):
        for parse in (parse_hedged_items, parse_designations):
            try:
                rows_, errors = parse(text, "f.json")
                assert len(rows_) + len(errors) <= 1
            except NotAFileOfThisKind:
                pass
        source.batch(httpx.Response(200, text=text), "m:2026-11-19")


# -- MT5 scenario files: refused at start-up, not when a cycle runs ------------------------------

SCENARIOS: dict[str, bytes] = {
    "invalid-json": b'{"accounts": [{"login": 1,',
    "empty": b"",
    "binary": bytes(range(256)) * 64,
    "nested": b'{"accounts": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "wrong-types": b'{"accounts": [{"login": "one", "password": 5, "terminal": [], "balance": "lots"}]}',
    "huge-number": b'{"accounts": [{"login": ' + b"9" * 5000 + b"}]}",
}
SAID_OF_SCENARIO = {
    "invalid-json": "not JSON",
    "empty": "not JSON",
    "binary": "not UTF-8 text",
    "nested": "JSON nested too deeply",
    "wrong-types": "not a scenario: accounts.0.login",
    "huge-number": "not JSON (Exceeds the limit (4300 digits)",
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_11_a_bad_mt5_scenario_file_stops_the_cli_at_start(name: str, db_url: str, tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.json"
    scenario.write_bytes(SCENARIOS[name])
    env = base_env(db_url, tmp_path, HEDGEOPS_MT5_SCENARIO=str(scenario), HEDGEOPS_MT5_TERMINALS="t1")
    before = counts(db_url)
    done = hedgeops(env, "run", "mt5-sync", "--in-process")  # the command that runs a cycle: it never starts one
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert "HEDGEOPS_MT5_SCENARIO" in lines[0] and SAID_OF_SCENARIO[name] in lines[0], lines
    assert counts(db_url) == before


@pytest.mark.parametrize("process", ["worker", "beat"])
def test_11_a_bad_mt5_scenario_file_stops_a_worker_and_beat_at_start(process: str, tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.json"
    scenario.write_bytes(SCENARIOS["nested"])
    env = base_env(f"sqlite:///{tmp_path}/h.db", tmp_path, HEDGEOPS_MT5_SCENARIO=str(scenario))
    command = [
        str(BIN / "celery"),
        "-A",
        "workers.celery_app",
        process,
        *(["-c", "1", "--without-mingle"] if process == "worker" else []),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1 and "JSON nested too deeply" in lines[0], done.stderr[-2000:]


# -- an HTTP JSON price source answering hostile bodies ----------------------------------------


def price(day: str, value: Any, **fields: Any) -> dict[str, Any]:
    return {
        "symbol": "LME-AL",
        "price_date": day,
        "price": value,
        "currency": "USD",
        "unit": "mt",
        "price_type": "cash_settlement",
        **fields,
    }


def row_json(**fields: Any) -> str:
    return json.dumps(price("2026-11-19", "2510", **fields))


#: A body -> (refused whole: the reason; else None, and each row's reason, by position).
HOSTILE_ANSWERS: dict[str, tuple[str, str | None, list[str]]] = {
    "malformed": ('{"prices": [' + row_json(), "not a price response (Expecting", []),
    "nan": ('{"prices": [' + row_json().replace('"2510"', "NaN") + "]}", "NaN is not a JSON number", []),
    "infinity": ('{"prices": [' + row_json().replace('"2510"', "-Infinity") + "]}", "-Infinity is not a JSON", []),
    "1e400": (
        '{"prices": [' + row_json().replace('"2510"', "1e400") + "]}",
        None,
        ["1: price: not a plain decimal number: '1E+400'"],
    ),
    "fullwidth-text": (
        json.dumps({"prices": [price("2026-11-19", "２５１０")]}),
        None,
        ["1: price: not a plain decimal number: '２５１０'"],
    ),
    "fullwidth-number": ('{"prices": [' + row_json().replace('"2510"', "２５１０") + "]}", "not a price response", []),
    "nested": ('{"prices": ' + "[" * 100_000 + "]" * 100_000 + "}", "JSON nested too deeply", []),
    "nested-row": ('{"prices": [' + '{"a": ' * 100_000 + "1" + "}" * 100_000 + "]}", "JSON nested too deeply", []),
    "wrong-types": (
        json.dumps(
            {
                "prices": [
                    price("2026-11-19", True),
                    price(1763510400, "2510"),
                    5,
                    price("2026-11-19", "2510", unit="m\x00t"),
                ]
            }
        ),
        None,
        [
            "1: price: Decimal input should be",
            "2: price_date: not a date YYYY-MM-DD: 1763510400",
            "3: row: Input should be a valid dictionary",
            "4: unit: control character U+0000 refused",
        ],
    ),
    "not-an-object": ("[1, 2, 3]", 'expected an object with a "prices" list', []),
    "request-id-nul": (
        json.dumps({"request_id": "r\x00", "prices": [price("2026-11-19", "2510")]}),
        "request_id: expected a text of at most 128",
        [],
    ),
    "request-id-long": (
        json.dumps({"request_id": "r" * 129, "prices": [price("2026-11-19", "2510")]}),
        "request_id: expected a text of at most 128",
        [],
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_ANSWERS))
def test_11_hostile_answers_of_a_price_json_source(name: str) -> None:
    """Each hostile body (through the adapter, in-process): refused whole with its reason, or
    each of its rows refused with its own; nothing raised."""
    from workers.adapters.http_json import HttpJsonPriceSource

    body, refused, row_reasons = HOSTILE_ANSWERS[name]
    source = HttpJsonPriceSource("m", "http://127.0.0.1:9/", ["LME-*"], lambda: datetime(2026, 11, 20, tzinfo=UTC))
    batch = source.batch(httpx.Response(200, text=body), "m:2026-11-19")
    if refused is not None:
        assert batch.rejected is not None and refused in batch.rejected and len(batch.rejected) < 300, batch.rejected
    else:
        assert batch.rejected is None and batch.report.rows == []
        errors = [str(e) for e in batch.report.errors]
        assert len(errors) == len(row_reasons) and all(
            e.startswith(f"m:2026-11-19:{r}") for e, r in zip(errors, row_reasons, strict=True)
        ), errors


@pytest.fixture
def answers() -> Iterator[tuple[str, list[str]]]:
    """A real HTTP server on 127.0.0.1 answering each request with the next body queued (200)."""
    queue: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            body = queue.pop(0) if queue else '{"prices": []}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: Any) -> None:
            return None

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/prices", queue
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("name", ["nested", "wrong-types"])
def test_11_hostile_answers_through_the_prices_job(
    name: str, db_url: str, tmp_path: Path, runtime: Any, answers: tuple[str, list[str]]
) -> None:
    """`hedgeops run prices` with the source answering a hostile body: the run completes with
    exceptions (exit 5), no traceback, no price written, the refusal audited."""
    url, queue = answers
    env = base_env(
        db_url,
        tmp_path,
        HEDGEOPS_PRICE_SOURCES=json.dumps(
            [{"name": "metals_api", "kind": "http_json", "url": url, "symbols": ["LME-*"], "retries": 0}]
        ),
    )
    load_contracts_csv(contracts_csv(contract("A")), "c.csv")
    before = counts(db_url)
    body, refused, row_reasons = HOSTILE_ANSWERS[name]
    queue.append(body)
    done = hedgeops(env, "run", "prices", "--in-process", "--as-of", "2026-11-20", "--json")
    assert done.returncode == 5 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert json.loads(done.stdout)["status"] == "completed_with_exceptions"
    after = counts(db_url)
    assert after["settlement_prices"] == before["settlement_prices"] == 0 and after["batch_runs"] == 1
    events = {
        t: d
        for t, d in rows(
            db_url, select(AuditEvent.event_type, AuditEvent.details).where(AuditEvent.event_type.like("price_file_%"))
        )
    }
    if refused is not None:
        assert refused in events["price_file_rejected"]["reason"], events
    else:
        assert len(events["price_file_ingested"]["rejected_rows"]) == len(row_reasons), events
