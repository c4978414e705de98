"""Builders of hedge-accounting inputs (FX forward contracts, hedged items, designations)
so that tests say only what matters to them."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from core.hedging.fx import RateSource
from core.hedging.policy import HedgingPolicy
from core.prices import PRICE_HEADER
from tasks.hedging.ports import HedgingPorts, configure
from tasks.ports import Ports

FX_HEADER = (
    "contract_ref",
    "instrument",
    "underlying",
    "side",
    "quantity",
    "unit",
    "entry_price",
    "currency",
    "trade_date",
    "maturity_date",
    "status",
    "settlement_method",
)
DOCUMENTATION = {
    "risk_management_objective": "Fix the USD value of EUR receivables",
    "hedging_strategy": "Sell EUR forward for the amount and date of each receivable",
    "hedged_item_description": "EUR trade receivable",
    "hedge_instrument_description": "EURUSD deliverable forward, sold",
    "economic_relationship": "Same currency pair, amount and date: values move in opposite directions",
    "sources_of_ineffectiveness": "Timing differences, counterparty credit risk",
}


def fx_forward(ref: str, **fields: str) -> dict[str, str]:
    return {
        "contract_ref": ref,
        "instrument": "fx_forward",
        "underlying": "EURUSD",
        "side": "sell",
        "quantity": "1000000",
        "unit": "EUR",
        "entry_price": "1.100000",
        "currency": "USD",
        "trade_date": "2026-10-01",
        "maturity_date": "2026-12-31",
        "status": "active",
        "settlement_method": "deliverable",
        **fields,
    }


def fx_contracts_csv(*rows: dict[str, str]) -> str:
    return "\n".join([",".join(FX_HEADER), *(",".join(r[h] for h in FX_HEADER) for r in rows)]) + "\n"


def receivable(ref: str, **fields: Any) -> dict[str, Any]:
    return {
        "item_ref": ref,
        "kind": "receivable",
        "underlying": "EURUSD",
        "amount": "1000000",
        "unit": "EUR",
        "currency": "USD",
        "exposure_date": "2026-12-31",
        "description": f"EUR invoice {ref}",
        **fields,
    }


def items_json(*items: dict[str, Any]) -> str:
    return json.dumps({"hedged_items": list(items)})


def designation(ref: str, contract_ref: str, item_ref: str, **fields: Any) -> dict[str, Any]:
    return {
        "designation_ref": ref,
        "version": 1,
        "contract_ref": contract_ref,
        "item_ref": item_ref,
        "hedge_type": "cash_flow",
        "designation_date": "2026-11-17",
        "method": "dollar_offset",
        "documentation": DOCUMENTATION,
        "designated_by": "alice",
        "approver_1": "bob",
        "approver_2": "carol",
        **fields,
    }


def designations_json(*entries: dict[str, Any]) -> str:
    return json.dumps({"designations": list(entries)})


def eurusd_csv(*rates: tuple[str, str]) -> str:
    """ECB-like reference rates of EURUSD: USD per 1 EUR, per (date, rate)."""
    lines = [",".join(PRICE_HEADER), *(f"EURUSD,{day},{rate},USD,EUR,reference" for day, rate in rates)]
    return "\n".join(lines) + "\n"


def with_hedging(runtime: Ports, **policy: Any) -> Ports:
    """Another hedging policy configured (discount rates, chunk size, defaults); FX
    forwards by spot proxy unless `fx_method` says otherwise (the figures of the tests
    written before parity forwards; tests of parity pass fx_method=RateSource.CIP). The
    shared bundle is returned as it is."""
    fields: dict[str, Any] = {"discount_rates": {"USD": Decimal("0.05")}, "fx_method": RateSource.SPOT_PROXY, **policy}
    configure(HedgingPorts(HedgingPolicy(**fields)))
    return runtime
