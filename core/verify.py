"""Verifying stored snapshots: the payload recomputed from the stored inputs must hash to
what was stored, and the stored payload must still hash to its own hash."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from core.canonical import canonical, canonical_form, text_and_sha
from core.hedging.functional import with_functional
from core.hedging.fx import FxMarket, value_fx_forward
from core.hedging.valuation_plan import FxValuationPlan
from core.mtm import value_contract
from core.mtm_results import MtmSnapshot, Valuation
from core.values import Contract, ObjectType, Price


@dataclass(frozen=True, slots=True)
class Finding:
    snapshot_key: str
    problem: str  # payload_tampered | recomputed_differs | not_valued_now | price_restated
    detail: str


def check_snapshot(
    key: str,
    stored_payload: dict[str, Any],
    stored_sha: str,
    contract: Contract,
    price: Price,
    as_of: date,
    price_date: date,
) -> list[Finding]:
    """What is off with one snapshot (nothing: an empty list)."""
    stored_text, sha = text_and_sha(stored_payload)
    if sha != stored_sha:
        return [Finding(key, "payload_tampered", "the stored payload no longer hashes to payload_sha256")]
    again = value_contract(contract, as_of, price_date, price)
    if not isinstance(again, MtmSnapshot):
        return [Finding(key, "not_valued_now", f"recomputing gives an exception: {again.reason.value}")]
    return _compared(key, stored_payload, stored_text, again)


def check_fx_snapshot(
    key: str,
    stored_payload: dict[str, Any],
    stored_sha: str,
    leg: Contract,
    oid: ObjectType,
    as_of: date,
    prices: Mapping[str, Price],
    plan: FxValuationPlan,
) -> list[Finding]:
    """What is off with one FX forward or hedged-item snapshot: recomputed from the leg, the
    exact price rows it used (spot or forward quote, and the functional rate) and the
    curves, method and functional currency its run recorded."""
    stored_text, sha = text_and_sha(stored_payload)
    if sha != stored_sha:
        return [Finding(key, "payload_tampered", "the stored payload no longer hashes to payload_sha256")]
    again = value_fx_forward(leg, as_of, FxMarket({}, prices, plan.curves, plan.method), oid)
    if not isinstance(again, MtmSnapshot):
        return [Finding(key, "not_valued_now", f"recomputing gives an exception: {again.reason.value}")]
    converted = with_functional(Valuation([again], []), plan.functional_currency, prices).snapshots[0]
    return _compared(key, stored_payload, stored_text, converted)


def _compared(key: str, stored_payload: dict[str, Any], stored_text: str, again: MtmSnapshot) -> list[Finding]:
    """The recomputed payload's canonical JSON against the stored payload's: the stored one
    hashes to payload_sha256 (checked first), so equal texts are equal hashes, and the
    second hash is not needed (a million a date)."""
    if canonical_form(again.payload)[1] == stored_text:
        return []
    recomputed = canonical(again.payload)
    assert isinstance(recomputed, dict)
    changed = sorted(k for k in recomputed.keys() | stored_payload.keys() if stored_payload.get(k) != recomputed.get(k))
    return [Finding(key, "recomputed_differs", f"fields: {', '.join(changed) or 'payload'}")]
