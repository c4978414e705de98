"""Commodity-forward snapshots valued set-based in PostgreSQL: one statement per chunk.

core.mtm, core.money and core.canonical stay the definition of a snapshot; this module
mirrors them in SQL, expression for expression, for the rows whose payload it reproduces
exactly, and leaves every other row to core (the caller values those in Python, in the
same unit of work). The rows it takes are those of a key range that:

- are commodity forwards with a status that revalues (core.mtm values exactly these as
  commodities; FX forwards are core.hedging.fx's);
- have a price of their underlying among `prices` (the D-1 prices core chose for the
  range: tasks pick them with core.calendars and core.mtm.best_price), in their currency
  and unit (otherwise core writes price_unavailable or a mismatch exception);
- are a buy or a sell, with a three-letter A-Z currency (its JSON text needs no escape);
- have |quantity * (price - entry_price)| < 10^16: below that the exact product has at
  most 28 significant digits (both factors have 6 decimals), so Python's Decimal (28
  digits of context) computes it exactly too, and both round it once, half-even to the
  cent. A bigger one goes to core, which rounds as Decimal does.

The same statement inserts the new snapshots (ON CONFLICT DO NOTHING), classifies every
taken row as created, existing (same key, same hash) or conflict (same key, another hash:
an idempotency_conflicts row with both payloads, as db.writepath writes it) and returns
the counts and the ids of the range's revaluing contracts it did not take.

The builders (`plain_text`, `half_even_cents`, `canonical_json`, `commodity_mtm`) are
shared with the benchmark's whole-book SQL reference (benchmarks/mtm_reference.py), so the
pipeline and its reference cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.canonical import normalise_decimal
from core.plans import KeyRange
from core.values import ContractStatus, Counts, Instrument, ObjectType, Price
from db.models import HedgeContract

#: Statuses that core values (ContractStatus.revalues).
_REVALUED = ", ".join(f"'{s.value}'" for s in ContractStatus if s.revalues)
#: |quantity * (price - entry)| below this: exact in a 28-digit Decimal context (12 decimals).
EXACT_BELOW = "1e16"


def plain_text(expr: str) -> str:
    """core.canonical.normalise_decimal in SQL: no trailing zeros, no exponent, zero is "0"."""
    return f"(CASE WHEN {expr} = 0 THEN '0' ELSE trim_scale({expr})::text END)"


def half_even_cents(expr: str) -> str:
    """core.money.money in SQL: round() is half away from zero; a tie goes to the even cent.
    PostgreSQL's numeric has no negative zero, so -0.00 cannot come out."""
    cents = f"({expr}) * 100"
    return (
        f"round(CASE WHEN abs({cents} - trunc({cents})) = 0.5 AND mod(trunc({cents}), 2) = 0 "
        f"THEN trunc({cents}) / 100 ELSE round({expr}, 2) END, 2)"
    )


def commodity_mtm(side: str, quantity: str, price: str, entry_price: str) -> str:
    """core.mtm.commodity_mtm in SQL: side * quantity * (price_d1 - entry_price), exact in
    numeric, then half-even to the cent once."""
    sign = f"(CASE {side} WHEN 'buy' THEN 1 WHEN 'sell' THEN -1 END)"
    return half_even_cents(f"{sign} * {quantity} * ({price} - {entry_price})")


@dataclass(frozen=True, slots=True)
class JsonText:
    """A SQL expression giving a JSON string's text (quoted in the document)."""

    sql: str


@dataclass(frozen=True, slots=True)
class JsonInt:
    """A SQL expression giving an integer (bare in the document)."""

    sql: str


def canonical_json(fields: Mapping[str, JsonText | JsonInt]) -> str:
    """core.canonical's JSON text in SQL: compact, keys sorted, strings quoted (their text
    must need no escape), integers bare."""
    parts = []
    for i, name in enumerate(sorted(fields)):
        value = fields[name]
        lead = ("{" if i == 0 else ",") + f'"{name}":'
        if isinstance(value, JsonText):
            parts.append(f"'{lead}\"' || {value.sql} || '\"'")
        else:
            parts.append(f"'{lead}' || {value.sql}")
    return " || ".join(parts) + " || '}'"


def snapshot_payload(
    *,
    as_of: str,
    currency: str,
    entry_price: str,
    mtm: str,
    object_id: str,
    object_type: str,
    price_d1_text: str,
    price_date: str,
    price_id: str,
    quantity: str,
) -> str:
    """The canonical JSON text of core.mtm_results.MtmSnapshot.payload (no extra fields)
    from SQL expressions: the contract's numbers as numeric; the price's canonical text,
    the dates and the object type as text."""
    return canonical_json(
        {
            "object_type": JsonText(object_type),
            "object_id": JsonInt(object_id),
            "as_of_date": JsonText(as_of),
            "price_date": JsonText(price_date),
            "price_id": JsonInt(price_id),
            "mtm_value": JsonText(plain_text(mtm)),
            "price_d1": JsonText(price_d1_text),
            "entry_price": JsonText(plain_text(entry_price)),
            "quantity_mt": JsonText(plain_text(quantity)),
            "currency": JsonText(currency),
        }
    )


def sha256_hex(text_expr: str) -> str:
    """hashlib.sha256(text.encode("utf-8")).hexdigest() in SQL."""
    return f"encode(sha256(convert_to({text_expr}, 'UTF8')), 'hex')"


SNAPSHOT_COLUMNS = (
    "idempotency_key",
    "object_type",
    "object_id",
    "as_of_date",
    "price_date",
    "price_id",
    "mtm_value",
    "price_d1",
    "entry_price",
    "quantity_mt",
    "currency",
    "correlation_id",
    "payload",
    "payload_sha256",
    "batch_run_id",
    "created_at",
)


def _range_statement() -> str:
    oid = ObjectType.HEDGE_CONTRACT.value
    mtm = commodity_mtm("c.side", "c.quantity", "c.price", "c.entry_price")
    doc = snapshot_payload(
        as_of="%(as_of_text)s::text",
        currency="c.currency",
        entry_price="c.entry_price",
        mtm="c.mtm",
        object_id="c.id",
        object_type=f"'{oid}'",
        price_d1_text="c.price_text",
        price_date="c.price_day",
        price_id="c.price_id",
        quantity="c.quantity",
    )
    # The range is read first on its own (MATERIALIZED): a planner without fresh statistics
    # would otherwise AND the status index into the scan (db.contracts.contracts_in_range).
    return f"""
WITH px AS (
  SELECT * FROM unnest(%(symbols)s::text[], %(price_ids)s::bigint[], %(prices)s::numeric[],
                       %(price_texts)s::text[], %(price_dates)s::date[], %(price_days)s::text[],
                       %(currencies)s::text[], %(units)s::text[])
    AS px(symbol, price_id, price, price_text, price_date, price_day, currency, unit)
), rng AS MATERIALIZED (
  SELECT id, instrument, underlying, side, quantity, unit, entry_price, currency, status
  FROM hedge_contracts WHERE id BETWEEN %(first)s AND %(last)s
), revalued AS (
  SELECT * FROM rng WHERE status IN ({_REVALUED})
), taken AS (
  SELECT r.id, r.side, r.quantity, r.entry_price, r.currency,
         px.price_id, px.price, px.price_text, px.price_date, px.price_day
  FROM revalued r JOIN px ON px.symbol = r.underlying AND px.currency = r.currency AND px.unit = r.unit
  WHERE r.instrument = '{Instrument.COMMODITY_FORWARD.value}' AND r.side IN ('buy', 'sell')
    AND r.currency ~ '^[A-Z]{{3}}$' AND abs(r.quantity * (px.price - r.entry_price)) < {EXACT_BELOW}
), valued AS (
  SELECT c.*, m.mtm FROM taken c CROSS JOIN LATERAL (SELECT {mtm} AS mtm) m
), v AS MATERIALIZED (
  SELECT c.*, 'MTM:{oid}:' || c.id || ':' || %(as_of_text)s::text AS key, j.doc, {sha256_hex("j.doc")} AS sha
  FROM valued c CROSS JOIN LATERAL (SELECT {doc} AS doc) j
), ins AS (
  INSERT INTO mtm_snapshots ({", ".join(SNAPSHOT_COLUMNS)})
  SELECT key, '{oid}', id, %(as_of)s::date, price_date, price_id, mtm, price, entry_price, quantity, currency,
         %(correlation_id)s::text, doc::jsonb, sha, %(batch_run_id)s::bigint, %(now)s::timestamptz
  FROM v ORDER BY id
  ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key
), stored AS MATERIALIZED (
  -- Only the keys not inserted are looked up (none on a first run); this reads the table
  -- as it was before the statement, so it never sees a row just inserted.
  SELECT v.key, v.doc, v.sha, t.payload_sha256 AS stored_sha, t.payload AS stored_payload
  FROM v JOIN mtm_snapshots t ON t.idempotency_key = v.key
  WHERE v.key NOT IN (SELECT idempotency_key FROM ins)
), conflicted AS (
  INSERT INTO idempotency_conflicts (table_name, idempotency_key, existing_sha256, incoming_sha256,
                                     existing_payload, incoming_payload, batch_run_id, detected_at)
  SELECT 'mtm_snapshots', key, stored_sha, sha, stored_payload, doc::jsonb, %(batch_run_id)s::bigint,
         %(now)s::timestamptz
  FROM stored WHERE stored_sha <> sha
  ON CONFLICT (idempotency_key, incoming_sha256) DO NOTHING
)
SELECT (SELECT count(*) FROM v), (SELECT count(*) FROM ins),
       (SELECT count(*) FROM stored WHERE stored_sha = sha), (SELECT count(*) FROM stored WHERE stored_sha <> sha),
       (SELECT coalesce(array_agg(id ORDER BY id), '{{}}') FROM revalued WHERE id NOT IN (SELECT id FROM taken))
"""


RANGE_STATEMENT = _range_statement()


@dataclass(slots=True)
class InDatabase:
    """What the statement did: the counts of the rows it took, and the ids of the range's
    revaluing contracts it left to core."""

    counts: Counts
    rest: list[int] = field(default_factory=list)


def value_commodities_in_range(
    session: Session,
    ids: KeyRange,
    as_of: date,
    prices: Sequence[Price],
    *,
    batch_run_id: int | None,
    now: datetime,
    correlation_id: str | None,
) -> InDatabase:
    """Value and write the snapshots of the commodity forwards of the key range `ids` that
    have one of `prices` (at most one per symbol: core's choice of its D-1 price)."""
    params = {
        "first": ids.first,
        "last": ids.last,
        "as_of": as_of,
        "as_of_text": as_of.isoformat(),
        "batch_run_id": batch_run_id,
        "now": now,
        "correlation_id": correlation_id,
        "symbols": [p.symbol for p in prices],
        "price_ids": [p.id for p in prices],
        "prices": [p.price for p in prices],
        "price_texts": [normalise_decimal(p.price) for p in prices],
        "price_dates": [p.price_date for p in prices],
        "price_days": [p.price_date.isoformat() for p in prices],
        "currencies": [p.currency for p in prices],
        "units": [p.unit for p in prices],
    }
    conn = session.connection()
    taken, created, existing, conflicts, rest = conn.exec_driver_sql(RANGE_STATEMENT, params).one()
    if created + existing + conflicts < taken:
        # A key another transaction committed while this statement ran: ON CONFLICT waited
        # for it, the statement's snapshot did not see it. Once more (a newer snapshot, in
        # which the rows inserted above are stored and the same): it settles those keys.
        _, again_created, again_existing, conflicts, rest = conn.exec_driver_sql(RANGE_STATEMENT, params).one()
        created, existing = created + again_created, again_existing - created
    return InDatabase(Counts(processed=taken, created=created, existing=existing, conflicts=conflicts), list(rest))


def commodity_underlyings(session: Session, ids: KeyRange) -> set[str]:
    """The symbols of the commodity forwards of a key range: the D-1 prices its statement needs."""
    stmt = (
        select(HedgeContract.underlying)
        .distinct()
        .where(
            HedgeContract.id.between(ids.first, ids.last),
            HedgeContract.instrument == Instrument.COMMODITY_FORWARD.value,
        )
    )
    return set(session.scalars(stmt))
