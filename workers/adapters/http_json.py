"""The HTTP JSON price source.

Request: `GET {url}?date=YYYY-MM-DD&symbols=A,B` once per D-1 date the wanted symbols need.
Response (200, application/json):

    {"request_id": "…", "published_at": "2026-11-19T17:30:00Z",
     "prices": [{"symbol": "LME-AL", "price_date": "2026-11-19", "price": "2563.50",
                 "currency": "USD", "unit": "mt", "price_type": "cash_settlement"}]}

Prices are strings (or JSON numbers, read as Decimal, never float). 5xx answers,
connection errors and timeouts are tried again with exponential back-off; when the tries
run out the error goes up (the task retries it later). A body that is not that JSON shape
is a refused batch: nothing of it is written. Each price is validated like a CSV row; the
"line" of a bad one is its position in `prices` (1-based).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import httpx
from pydantic import ValidationError
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

from core.ports import PriceBatch
from core.prices import PriceRow
from core.rows import CONTROL, DEFAULT_WINDOW, DateWindow, control_problem, describe, window_context
from core.sources import covers, keep_known_symbols
from core.values import ParseReport, RowError


class PriceSourceUnavailable(ConnectionError):
    """The endpoint did not answer usefully after every try (a transient error: retried)."""


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code >= 500
    return isinstance(exc, httpx.TransportError)


class HttpJsonPriceSource:
    def __init__(
        self,
        name: str,
        url: str,
        symbols: Sequence[str],
        clock: Callable[[], datetime],
        *,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        client: httpx.Client | None = None,
        window: DateWindow = DEFAULT_WINDOW,
    ) -> None:
        self.name = name
        self.window = window
        self.url = url
        self.symbols = list(symbols)
        self._clock = clock
        self._client = client or httpx.Client(timeout=timeout)
        self._get = retry(
            retry=retry_if_exception(_retryable),
            stop=stop_after_attempt(retries + 1),
            wait=wait_exponential(multiplier=backoff, max=30),
            reraise=True,
        )(self._get_once)

    def fetch(self, as_of: date, wanted: Mapping[str, date]) -> Iterator[PriceBatch]:
        by_date: dict[date, list[str]] = {}
        for symbol, day in sorted(wanted.items()):
            if covers(self.symbols, symbol):
                by_date.setdefault(day, []).append(symbol)
        for day, symbols in sorted(by_date.items()):
            yield self.request(day, symbols)

    def acknowledge(self, batch: PriceBatch) -> None:
        """Nothing to archive."""

    def request(self, day: date, symbols: Sequence[str]) -> PriceBatch:
        params = {"date": day.isoformat(), "symbols": ",".join(symbols)}
        try:
            response = self._get(params)
        except (httpx.HTTPStatusError, httpx.TransportError) as exc:
            raise PriceSourceUnavailable(f"price source {self.name}: {type(exc).__name__}: {exc}") from exc
        return self.batch(response, f"{self.name}:{day.isoformat()}")

    def _get_once(self, params: dict[str, str]) -> httpx.Response:
        response = self._client.get(self.url, params=params)
        response.raise_for_status()
        return response

    def batch(self, response: httpx.Response, label: str) -> PriceBatch:
        now = self._clock()
        header = response.headers.get("x-request-id")
        request_id = header if header and _plain_id(header) else str(uuid.uuid4())
        try:
            body = json.loads(response.text, parse_float=Decimal, parse_constant=_not_json)
            prices, published = _shape(body)
            request_id = _given_request_id(body.get("request_id"), request_id)
        except ValueError as exc:
            return PriceBatch(
                self.name,
                ParseReport(label),
                now,
                request_id=request_id,
                rejected=f"{label}: not a price response ({_shown(exc)})",
            )
        except RecursionError:
            return PriceBatch(
                self.name,
                ParseReport(label),
                now,
                request_id=request_id,
                rejected=f"{label}: not a price response (JSON nested too deeply)",
            )
        report = keep_known_symbols(_rows(prices, label, now.date(), self.window), self.symbols)
        return PriceBatch(self.name, report, now, request_id=request_id, published_at=published)


def _not_json(constant: str) -> Any:
    """NaN, Infinity and -Infinity: Python's json reads them, JSON (RFC 8259) has none."""
    raise ValueError(f"{constant} is not a JSON number")


def _shown(exc: ValueError) -> str:
    """The reason, at most 200 characters: an answer's text is the sender's, of any size."""
    text = str(exc)
    return text if len(text) <= 200 else text[:197] + "..."


def _plain_id(value: str) -> bool:
    """Stored as provenance (128 characters): no control character (PostgreSQL refuses a NUL)."""
    return 0 < len(value) <= 128 and CONTROL.search(value) is None


def _given_request_id(given: Any, otherwise: str) -> str:
    if given is None or given == "":
        return otherwise
    if isinstance(given, bool) or not isinstance(given, (str, int)) or not _plain_id(str(given)):
        raise ValueError("request_id: expected a text of at most 128 characters, without control characters")
    return str(given)


def _shape(body: Any) -> tuple[list[Any], datetime | None]:
    if not isinstance(body, dict) or not isinstance(body.get("prices"), list):
        raise ValueError('expected an object with a "prices" list')
    published = body.get("published_at")
    try:
        when = datetime.fromisoformat(published) if published else None
    except (TypeError, ValueError):
        raise ValueError(f"published_at: {published!r} is not an ISO 8601 time") from None
    if when is not None and when.tzinfo is None:
        raise ValueError("published_at: a time zone is required")
    return body["prices"], when


def _rows(prices: list[Any], label: str, today: date, window: DateWindow) -> ParseReport[PriceRow]:
    report: ParseReport[PriceRow] = ParseReport(label)
    for index, item in enumerate(prices, start=1):
        if isinstance(item, dict) and isinstance(item.get("price"), Decimal):
            item = {**item, "price": str(item["price"])}
        texts = {str(k): v for k, v in item.items() if isinstance(v, str)} if isinstance(item, dict) else {}
        if (problem := control_problem(list(texts.values()), list(texts))) is not None:
            report.errors.append(RowError(label, index, problem))  # as a CSV row's: PostgreSQL refuses a NUL
            continue
        try:
            row = PriceRow.model_validate(item, context=window_context(window))
        except ValidationError as exc:
            report.errors.append(RowError(label, index, describe(exc)))
            continue
        if row.price_date > today:
            report.errors.append(RowError(label, index, f"price_date: {row.price_date.isoformat()} is in the future"))
            continue
        report.rows.append((index, row))
    return report
