"""The HTTP JSON price source against a real HTTP server on 127.0.0.1: success, 5xx then
success, timeouts, a malformed body; and nothing half-written by the prices job."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import func, select

from core.ledger import job_scope
from core.values import Job, Trigger
from db.models import AuditEvent, SettlementPrice
from tasks import runs
from tasks.loading import load_contracts_csv
from tasks.prices import ingest_prices
from tests.builders import contract, contracts_csv
from tests.fakes import Clock
from workers.adapters.http_json import HttpJsonPriceSource, PriceSourceUnavailable

D1 = "2026-11-19"


class Script:
    """What the server answers, one entry per request: (status, body, delay seconds)."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, str, float]] = []
        self.requests: list[dict[str, list[str]]] = []

    def then(self, status: int, body: Any, delay: float = 0.0) -> Script:
        self.answers.append((status, body if isinstance(body, str) else json.dumps(body), delay))
        return self


def prices_body(*rows: tuple[str, str], day: str = D1) -> dict[str, Any]:
    return {
        "request_id": "req-42",
        "published_at": "2026-11-19T17:30:00+00:00",
        "prices": [
            {
                "symbol": s,
                "price_date": day,
                "price": p,
                "currency": "USD",
                "unit": "mt",
                "price_type": "cash_settlement",
            }
            for s, p in rows
        ],
    }


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            script.requests.append(parse_qs(urlparse(self.path).query))
            status, body, delay = script.answers.pop(0) if script.answers else (404, "{}", 0.0)
            time.sleep(delay)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting: that is the test

        def log_message(self, *args: Any) -> None:
            return None

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/prices", script
    httpd.shutdown()
    httpd.server_close()


def source(url: str, clock: Clock, **options: Any) -> HttpJsonPriceSource:
    return HttpJsonPriceSource("metals_api", url, ["LME-*"], clock, backoff=0.01, **options)


WANTED = {"LME-AL": date(2026, 11, 19), "LME-CU": date(2026, 11, 19), "EURUSD": date(2026, 11, 19)}


class TestAdapter:
    def test_success_asks_for_the_wanted_symbols_of_its_own(self, server: tuple[str, Script], clock: Clock) -> None:
        url, script = server
        script.then(200, prices_body(("LME-AL", "2563.50"), ("LME-CU", "10012.25")))
        [batch] = source(url, clock).fetch(date(2026, 11, 20), WANTED)
        assert script.requests == [{"date": [D1], "symbols": ["LME-AL,LME-CU"]}]  # not EURUSD: not its symbol
        assert [(r.symbol, r.price) for _, r in batch.report.rows] == [
            ("LME-AL", Decimal("2563.500000")),
            ("LME-CU", Decimal("10012.250000")),
        ]
        assert (batch.request_id, batch.published_at.isoformat()) == ("req-42", "2026-11-19T17:30:00+00:00")

    def test_a_5xx_is_tried_again(self, server: tuple[str, Script], clock: Clock) -> None:
        url, script = server
        script.then(503, {"error": "busy"}).then(502, "bad gateway").then(200, prices_body(("LME-AL", "1")))
        [batch] = source(url, clock, retries=3).fetch(date(2026, 11, 20), WANTED)
        assert len(script.requests) == 3 and len(batch.report.rows) == 1

    def test_a_4xx_is_not_tried_again(self, server: tuple[str, Script], clock: Clock) -> None:
        url, script = server
        script.then(404, {"error": "no such date"}).then(200, prices_body(("LME-AL", "1")))
        with pytest.raises(PriceSourceUnavailable, match="404"):
            list(source(url, clock, retries=3).fetch(date(2026, 11, 20), WANTED))
        assert len(script.requests) == 1

    def test_timeouts_run_out_of_tries(self, server: tuple[str, Script], clock: Clock) -> None:
        url, script = server
        for _ in range(3):
            script.then(200, prices_body(("LME-AL", "1")), delay=1.0)
        with pytest.raises(PriceSourceUnavailable, match="ReadTimeout"):
            list(source(url, clock, retries=2, timeout=0.2).fetch(date(2026, 11, 20), WANTED))
        assert len(script.requests) == 3

    @pytest.mark.parametrize(
        "body, says",
        [
            ("<html>maintenance</html>", "not a price response"),
            ({"data": []}, 'a "prices" list'),
            ({"prices": [], "published_at": "yesterday"}, "published_at"),
        ],
    )
    def test_a_malformed_body_is_a_refused_batch(
        self, server: tuple[str, Script], clock: Clock, body: Any, says: str
    ) -> None:
        url, script = server
        script.then(200, body)
        [batch] = source(url, clock).fetch(date(2026, 11, 20), WANTED)
        assert batch.rejected and says in batch.rejected and batch.report.rows == []

    def test_bad_prices_are_reported_by_position(self, server: tuple[str, Script], clock: Clock) -> None:
        url, script = server
        body = prices_body(("LME-AL", "2563.50"), ("LME-CU", "-3"))
        body["prices"].append(
            {
                "symbol": "LME-ZN",
                "price_date": D1,
                "price": 2931.5,
                "currency": "USD",
                "unit": "mt",
                "price_type": "cash_settlement",
            }
        )  # a JSON number: read exactly
        script.then(200, json.dumps(body))
        [batch] = source(url, clock).fetch(date(2026, 11, 20), {"LME-AL": date(2026, 11, 19)})
        assert [(line, r.symbol, r.price) for line, r in batch.report.rows] == [
            (1, "LME-AL", Decimal("2563.500000")),
            (3, "LME-ZN", Decimal("2931.500000")),
        ]
        assert [(e.line, e.reason.split(":")[0]) for e in batch.report.errors] == [(2, "price")]


class TestNothingHalfWritten:
    def book(self) -> None:
        load_contracts_csv(
            contracts_csv(
                contract("A", underlying="LME-AL"),
                contract("B", underlying="LME-CU"),
                contract("C", underlying="LME-ZN", trade_date="2026-05-01"),
            ),
            "c.csv",
        )

    def test_a_failure_on_the_second_request_leaves_nothing_of_the_first(
        self, runtime: Any, server: tuple[str, Script], clock: Clock
    ) -> None:
        url, script = server
        self.book()
        # Two D-1 dates for as-of Tue 5 May 2026: LME metals (England and Wales) need Fri 1 May,
        # LME-ZN, moved to TARGET by a settings override, needs Mon 4 May.
        object.__setattr__(runtime, "symbol_calendars", {"LME-ZN": "TARGET"})
        object.__setattr__(runtime, "price_sources", [source(url, clock, retries=1, timeout=0.2)])
        script.then(200, prices_body(("LME-AL", "2563.5"), ("LME-CU", "10012.25"), day="2026-05-01"))
        script.then(500, "oops").then(500, "oops")
        begun = runs.begin(runtime, job_scope(Job.PRICES, date(2026, 5, 5)), Trigger.MANUAL, task_id="t")
        summary = ingest_prices(runtime, begun.run_id)  # the source's failure, recorded: not the whole job's
        assert (summary["status"], summary["failed_sources"]) == ("completed_with_exceptions", ["metals_api"])
        assert [r["date"] for r in script.requests] == [["2026-05-01"], ["2026-05-04"], ["2026-05-04"]]
        with runtime.uow() as uow:
            assert uow.session.scalar(select(func.count()).select_from(SettlementPrice)) == 0
            failed = [
                (e.entity_id, "500" in e.details["error"])
                for e in uow.session.scalars(select(AuditEvent).where(AuditEvent.event_type == "price_source_failed"))
            ]
        assert failed == [("metals_api", True)]

    def test_a_malformed_body_writes_nothing_and_is_audited(
        self, runtime: Any, server: tuple[str, Script], clock: Clock
    ) -> None:
        url, script = server
        self.book()
        object.__setattr__(runtime, "price_sources", [source(url, clock)])
        script.then(200, "{not json")
        begun = runs.begin(runtime, job_scope(Job.PRICES, date(2026, 11, 20)), Trigger.MANUAL, task_id="t")
        summary = ingest_prices(runtime, begun.run_id)
        assert (summary["status"], summary["counts"]["exceptions"], summary["price_missing"]) == (
            "completed_with_exceptions",
            1,
            3,
        )
        with runtime.uow() as uow:
            assert uow.session.scalar(select(func.count()).select_from(SettlementPrice)) == 0
            events = uow.session.scalars(select(AuditEvent.event_type)).all()
        assert events.count("price_file_rejected") == 1 and events.count("price_missing") == 3
