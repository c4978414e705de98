"""Verifying stored snapshots: the payload recomputed from the stored inputs must hash to
what was stored, and the stored payload must still hash to its own hash."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from core.canonical import canonical, payload_sha256
from core.mtm import value_contract
from core.mtm_results import MtmSnapshot
from core.values import Contract, Price


@dataclass(frozen=True, slots=True)
class Finding:
    snapshot_key: str
    problem: str  # payload_tampered | recomputed_differs | not_valued_now | price_restated
    detail: str


def check_snapshot(key: str, stored_payload: dict[str, Any], stored_sha: str, contract: Contract, price: Price,
                   as_of: date, price_date: date) -> list[Finding]:
    """What is off with one snapshot (nothing: an empty list)."""
    if payload_sha256(stored_payload) != stored_sha:
        return [Finding(key, "payload_tampered", "the stored payload no longer hashes to payload_sha256")]
    again = value_contract(contract, as_of, price_date, price)
    if not isinstance(again, MtmSnapshot):
        return [Finding(key, "not_valued_now", f"recomputing gives an exception: {again.reason.value}")]
    if again.sha256 != stored_sha:
        recomputed = canonical(again.payload)
        assert isinstance(recomputed, dict)
        changed = sorted(k for k, v in recomputed.items() if stored_payload.get(k) != v)
        return [Finding(key, "recomputed_differs", f"fields: {', '.join(changed) or 'payload'}")]
    return []
