"""Commodity-forward snapshots valued set-based in PostgreSQL: one statement per chunk.

core.mtm, core.money and core.canonical stay the definition of a snapshot; this module
mirrors them in SQL, expression for expression, for the rows whose payload it reproduces
exactly, and leaves every other row to core (the caller values those in Python, in the
same unit of work). The rows it takes are those of a key range that:

- are commodity forwards with a status that revalues (core.mtm values exactly these as
  commodities; FX forwards are core.hedging.fx's), or, for a chunk whose plan fixed its
  members, are among them whatever their status now (issue 21, point 1);
- have a price of their underlying among `prices` (the D-1 prices core chose for the
  range: tasks pick them with core.calendars and core.mtm.best_price), in their currency
  and unit (otherwise core writes price_unavailable or a mismatch exception);
- are a buy or a sell, with a three-letter A-Z currency (its JSON text needs no escape);
- have |quantity * (price - entry_price)| < 10^16: below that the exact product has at
  most 28 significant digits (both factors have 6 decimals); both compute it exactly and
  round it once, half-even to the cent. A bigger one goes to core (exact too since issue
  21: core.money.EXACT_CONTEXT), which also makes a value the money column cannot hold
  (>= 10^22) a `value_out_of_range` exception for its contract alone, so the statement
  never writes one (tests/integration/test_mtm_sql_differential.py holds both).

This module makes the rows (a SELECT: the key, the columns, the canonical payload text
and its hash); db.writepath.merge_from writes them in the same statement, as it writes the
staging table of a COPY: created, existing or conflict, each row classified there. The
statement also returns the ids of the range's revaluing contracts it did not take.

The builders (`plain_text`, `half_even_cents`, `canonical_json`, `commodity_mtm`,
`snapshot_select`) are shared with the benchmark's whole-book SQL reference
(benchmarks/mtm_reference.py), so the pipeline and its reference cannot drift apart; the
key template, the payload's fields and the columns are core.mtm_results'.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.canonical import normalise_decimal
from core.mtm_results import SNAPSHOT_FIELDS, SNAPSHOT_KEY
from core.plans import IdRuns, KeyRange
from core.values import ContractStatus, Counts, Instrument, ObjectType, Price
from db.models import HedgeContract, MtmSnapshot
from db.writepath import MergeSource, merge_from

#: Statuses that core values (ContractStatus.revalues).
_REVALUED = ", ".join(f"'{s.value}'" for s in ContractStatus if s.revalues)
#: |quantity * (price - entry)| below this: at most 28 digits (12 decimals); core takes the rest.
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


def snapshot_payload(values: Mapping[str, str | JsonText]) -> str:
    """The canonical JSON text of core.mtm_results.MtmSnapshot.payload (no extra fields)
    from SQL expressions: `values` gives each of SNAPSHOT_FIELDS as an expression of its
    column's type (numeric, bigint; text for a date or a text), or as JsonText when its
    canonical text is made already."""
    if set(values) != set(SNAPSHOT_FIELDS):
        raise ValueError(f"the snapshot's fields are {sorted(SNAPSHOT_FIELDS)}, not {sorted(values)}")
    fields: dict[str, JsonText | JsonInt] = {}
    for name, kind in SNAPSHOT_FIELDS.items():
        value = values[name]
        if isinstance(value, JsonText):
            fields[name] = value
        elif kind is int:
            fields[name] = JsonInt(value)
        else:
            fields[name] = JsonText(plain_text(value) if kind is Decimal else value)
    return canonical_json(fields)


def sha256_hex(text_expr: str) -> str:
    """hashlib.sha256(text.encode("utf-8")).hexdigest() in SQL."""
    return f"encode(sha256(convert_to({text_expr}, 'UTF8')), 'hex')"


def sql_template(template: str, values: Mapping[str, str | JsonText]) -> str:
    """A str.format template in SQL: its text quoted, each field the text of its expression."""
    parts = []
    for text, name, _, _ in string.Formatter().parse(template):
        if text:
            parts.append("'" + text.replace("'", "''") + "'")
        if name is not None:
            value = values[name]
            parts.append(f"({value.sql if isinstance(value, JsonText) else value})::text")
    return " || ".join(parts)


#: The columns of a snapshot row as the valuation makes it (the write path adds the run and
#: the time): core's fields and the write path's key, payload and hash.
SNAPSHOT_COLUMNS = ("idempotency_key", *SNAPSHOT_FIELDS, "correlation_id", "payload", "payload_sha256")


def snapshot_select(
    fields: Mapping[str, str], texts: Mapping[str, JsonText], *, correlation_id: str, jsonb: bool = False
) -> tuple[str, str]:
    """Snapshot rows in SQL: the select list (named as SNAPSHOT_COLUMNS; the payload its
    canonical text, or jsonb) and the lateral join that makes the payload (`j.doc`) once.
    `fields` gives each of SNAPSHOT_FIELDS as an expression of its column's type, `texts`
    the canonical text of some (a date's ISO text, say), used in the key and the payload."""
    spelled: dict[str, str | JsonText] = {**fields, **texts}
    columns = {
        "idempotency_key": sql_template(SNAPSHOT_KEY, spelled),
        **fields,
        "correlation_id": correlation_id,
        "payload": "j.doc::jsonb" if jsonb else "j.doc",
        "payload_sha256": sha256_hex("j.doc"),
    }
    select_list = ", ".join(f"{columns[name]} AS {name}" for name in SNAPSHOT_COLUMNS)
    return select_list, f"CROSS JOIN LATERAL (SELECT {snapshot_payload(spelled)} AS doc) j"


#: A range's snapshot fields from its valued rows `c`; the texts made in Python once per chunk.
_RANGE_FIELDS = {
    "object_type": f"'{ObjectType.HEDGE_CONTRACT.value}'::text",
    "object_id": "c.id",
    "as_of_date": "%(as_of)s::date",
    "price_date": "c.price_date",
    "price_id": "c.price_id",
    "mtm_value": "c.mtm",
    "price_d1": "c.price",
    "entry_price": "c.entry_price",
    "quantity_mt": "c.quantity",
    "currency": "c.currency",
}
_RANGE_TEXTS = {
    "as_of_date": JsonText("%(as_of_text)s::text"),
    "price_date": JsonText("c.price_day"),
    "price_d1": JsonText("c.price_text"),
}


#: The contracts of a range core values: those whose status revalues now (a plan without members).
_BY_STATUS = f"SELECT * FROM rng WHERE status IN ({_REVALUED})"
#: The contracts of a range core values: a chunk's members, fixed when planned, whatever their
#: status now (issue 21, point 1). A book of consecutive ids is one run: the range itself.
_BY_MEMBERS = (
    "SELECT rng.* FROM rng JOIN unnest(%(run_firsts)s::bigint[], %(run_lasts)s::bigint[]) AS m(a, b) "
    "ON rng.id BETWEEN m.a AND m.b"
)


def _valuation_ctes(revalued: str = _BY_STATUS) -> str:
    """The CTEs that value a key range: `v`, its snapshot rows; `revalued` (the contracts to
    value, `revalued` gives them) and `taken`, to tell which of them it left to core."""
    mtm = commodity_mtm("c.side", "c.quantity", "c.price", "c.entry_price")
    select_list, payload = snapshot_select(_RANGE_FIELDS, _RANGE_TEXTS, correlation_id="%(correlation_id)s::text")
    # The range is read first on its own (MATERIALIZED): a planner without fresh statistics
    # would otherwise AND the status index into the scan (db.contracts.contracts_in_range).
    return f"""
px AS (
  SELECT * FROM unnest(%(symbols)s::text[], %(price_ids)s::bigint[], %(prices)s::numeric[],
                       %(price_texts)s::text[], %(price_dates)s::date[], %(price_days)s::text[],
                       %(currencies)s::text[], %(units)s::text[])
    AS px(symbol, price_id, price, price_text, price_date, price_day, currency, unit)
), rng AS MATERIALIZED (
  SELECT id, instrument, underlying, side, quantity, unit, entry_price, currency, status
  FROM hedge_contracts WHERE id BETWEEN %(first)s AND %(last)s
), revalued AS (
  {revalued}
), taken AS (
  SELECT r.id, r.side, r.quantity, r.entry_price, r.currency,
         px.price_id, px.price, px.price_text, px.price_date, px.price_day
  FROM revalued r JOIN px ON px.symbol = r.underlying AND px.currency = r.currency AND px.unit = r.unit
  WHERE r.instrument = '{Instrument.COMMODITY_FORWARD.value}' AND r.side IN ('buy', 'sell')
    AND r.currency ~ '^[A-Z]{{3}}$' AND abs(r.quantity * (px.price - r.entry_price)) < {EXACT_BELOW}
), valued AS (
  SELECT c.*, m.mtm FROM taken c CROSS JOIN LATERAL (SELECT {mtm} AS mtm) m
), v AS MATERIALIZED (
  SELECT {select_list} FROM valued c {payload}
)"""


#: The rows of a key range, for the write path to merge; and the range's revaluing contracts
#: it did not take (in id order), which core values.
RANGE_SOURCE = MergeSource(
    relation="v",
    columns=SNAPSHOT_COLUMNS,
    ctes=_valuation_ctes(),
    order_by="object_id",
    extra=("(SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM revalued WHERE id NOT IN (SELECT id FROM taken))",),
)
#: The same of a chunk's planned members.
MEMBERS_SOURCE = replace(RANGE_SOURCE, ctes=_valuation_ctes(_BY_MEMBERS))


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
    members: IdRuns | None = None,
) -> InDatabase:
    """Value and write the snapshots of the commodity forwards of the key range `ids` that
    have one of `prices` (at most one per symbol: core's choice of its D-1 price): those
    whose status revalues, or with `members` (a chunk's plan) those, whatever their status.
    A price the variance control holds (`unverified`) values nothing here: its contracts go
    to core, which gives them `price_unverified`."""
    source = range_source(ids, as_of, [p for p in prices if not p.unverified], correlation_id)
    if members is not None:
        runs = {"run_firsts": [r[0] for r in members], "run_lasts": [r[1] for r in members]}
        source = replace(MEMBERS_SOURCE, params={**source.params, **runs})
    merged = merge_from(session, MtmSnapshot, source, batch_run_id=batch_run_id, now=now)
    return InDatabase(merged.counts, list(merged.extra[0]))


def range_source(ids: KeyRange, as_of: date, prices: Sequence[Price], correlation_id: str | None) -> MergeSource:
    """The snapshot rows of a key range valued with `prices`, as SQL for the write path."""
    params = {
        "first": ids.first,
        "last": ids.last,
        "as_of": as_of,
        "as_of_text": as_of.isoformat(),
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
    return replace(RANGE_SOURCE, params=params)


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
