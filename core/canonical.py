"""Canonical payloads: the business values of a result, as stable JSON and its hash.

Two payloads with the same business values give the same hash whatever the Decimal's
exponent (1.50 and 1.5 are one value) and whatever the key order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import orjson

JsonValue = str | int | bool | None | list["JsonValue"] | dict[str, "JsonValue"]


def normalise_decimal(value: Decimal) -> str:
    """A Decimal as plain text without exponent or trailing zeros: 1.500 -> "1.5"."""
    if value == 0:
        return "0"
    text = format(value.normalize(), "f")
    return text


def canonical(value: Any) -> JsonValue:
    """Turn business values into JSON-able values with one spelling each."""
    kind = type(value)
    if kind is str or kind is int or value is None:  # the common cases first: bulk writes call this a lot
        return value  # type: ignore[no-any-return]
    if kind is Decimal:
        return normalise_decimal(value)
    if kind is date:
        return value.isoformat()  # type: ignore[no-any-return]
    if kind is dict:
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, bool) or isinstance(value, int | str):
        return value
    if isinstance(value, Enum):
        return canonical(value.value)
    if isinstance(value, Decimal):
        return normalise_decimal(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    if isinstance(value, float):
        raise TypeError("floats are not business values here: use Decimal")
    raise TypeError(f"cannot make {type(value).__name__} canonical")


def _dumps(value: JsonValue) -> str:
    """Compact JSON, keys sorted, UTF-8 (orjson: the bulk write path hashes a lot of these)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode("utf-8")


def canonical_json(payload: Mapping[str, Any]) -> str:
    return _dumps(canonical(payload))


def payload_sha256(payload: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def canonical_form(payload: Mapping[str, Any]) -> tuple[dict[str, JsonValue], str, str]:
    """The canonical payload, its JSON text and that text's SHA-256, computed once."""
    if all(type(v) is str for v in payload.values()):  # already canonical (a bulk writer made it so)
        value: dict[str, JsonValue] = dict(payload)
    else:
        value = _canonical_mapping(payload)
    text = _dumps(value)
    return value, text, hashlib.sha256(text.encode("utf-8")).hexdigest()


def _canonical_mapping(payload: Mapping[str, Any]) -> dict[str, JsonValue]:
    """canonical() of a mapping, its common scalar values without a call each: the bulk
    write path makes a million of these a night (an MTM snapshot has ten values)."""
    out: dict[str, JsonValue] = {}
    for key, value in payload.items():
        kind = type(value)
        if kind is str or kind is int or value is None:
            out[str(key)] = value
        elif kind is Decimal:
            out[str(key)] = normalise_decimal(value)
        elif kind is date:
            out[str(key)] = value.isoformat()
        else:
            out[str(key)] = canonical(value)
    return out


def text_and_sha(value: Mapping[str, JsonValue]) -> tuple[str, str]:
    """The JSON text and SHA-256 of a payload already in canonical form (a writer that
    spells its values canonically itself, as `canonical` would, skips the second pass
    `canonical_form` makes over them; tests compare both)."""
    text = _dumps(value)  # type: ignore[arg-type]
    return text, hashlib.sha256(text.encode("utf-8")).hexdigest()
