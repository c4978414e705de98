"""The chart of accounts hedge accounting posts to: one account code per role, per hedge
type (seed 004 §5, IFRS 9 6.5.8-6.5.13).

    chart = ChartOfAccounts.from_mapping({"cash_flow": {"derivative_asset": "1450", ...}, ...})
    chart.code(HedgeType.CASH_FLOW, AccountRole.CASH_FLOW_HEDGE_RESERVE)  # "3510"

A mapping that leaves out a role a hedge type needs is refused with ChartOfAccountsError,
naming every missing (hedge type, role); DEFAULT_CHART is the demo's chart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from core.hedging.dossier import HedgeType


class AccountRole(StrEnum):
    DERIVATIVE_ASSET = "derivative_asset"
    DERIVATIVE_LIABILITY = "derivative_liability"
    CASH_FLOW_HEDGE_RESERVE = "cash_flow_hedge_reserve"  # OCI, 6.5.11
    TRANSLATION_RESERVE = "translation_reserve"  # OCI, foreign currency translation, 6.5.13
    HEDGE_INEFFECTIVENESS = "hedge_ineffectiveness"  # P&L
    FX_GAIN_LOSS = "fx_gain_loss"  # P&L: unhedged changes, reclassified reserves, translation
    HEDGED_ITEM_BASIS_ADJUSTMENT = "hedged_item_basis_adjustment"  # fair value hedge, 6.5.8(b)
    INVENTORY_BASIS_ADJUSTMENT = "inventory_basis_adjustment"  # cost of a non-financial item, 6.5.11(d)(i)
    SETTLEMENT_CASH = "settlement_cash"  # a settlement's cash, per currency, not in the chart (core.hedging.settlement)


R = AccountRole
_COMMON = (R.DERIVATIVE_ASSET, R.DERIVATIVE_LIABILITY, R.HEDGE_INEFFECTIVENESS, R.FX_GAIN_LOSS)

#: The roles each hedge type posts to: what a chart must give it.
REQUIRED_ROLES: Mapping[HedgeType, tuple[AccountRole, ...]] = MappingProxyType(
    {
        HedgeType.CASH_FLOW: (*_COMMON, R.CASH_FLOW_HEDGE_RESERVE, R.INVENTORY_BASIS_ADJUSTMENT),
        HedgeType.FAIR_VALUE: (*_COMMON, R.HEDGED_ITEM_BASIS_ADJUSTMENT),
        HedgeType.NET_INVESTMENT: (*_COMMON, R.TRANSLATION_RESERVE),
    }
)


class ChartOfAccountsError(ValueError):
    """A chart that leaves out roles a hedge type needs, or names unknown ones."""


@dataclass(frozen=True)
class ChartOfAccounts:
    """Account codes by hedge type and role; complete by construction (use from_mapping)."""

    codes: Mapping[HedgeType, Mapping[AccountRole, str]]

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Mapping[str, str]]) -> ChartOfAccounts:
        """Parse {hedge type: {role: code}}; every problem in one ChartOfAccountsError."""
        problems: list[str] = []
        codes: dict[HedgeType, dict[AccountRole, str]] = {}
        for type_name, roles in raw.items():
            if type_name not in set(HedgeType):
                problems.append(f"unknown hedge type {type_name!r} (known: {', '.join(HedgeType)})")
                continue
            known = {role.value for role in AccountRole}
            problems += [f"{type_name}: unknown role {name!r}" for name in roles if name not in known]
            problems += [f"{type_name}.{name}: empty account code" for name, code in roles.items() if not code.strip()]
            codes[HedgeType(type_name)] = {AccountRole(n): c.strip() for n, c in roles.items() if n in known}
        problems += missing_roles(codes)
        if problems:
            raise ChartOfAccountsError("chart of accounts: " + "; ".join(problems))
        return cls(MappingProxyType({t: MappingProxyType(c) for t, c in codes.items()}))

    def code(self, hedge_type: HedgeType, role: AccountRole) -> str:
        return self.codes[hedge_type][role]


def missing_roles(codes: Mapping[HedgeType, Mapping[AccountRole, str]]) -> list[str]:
    """Each (hedge type, role) a chart must have and lacks, as `missing cash_flow.<role>`."""
    return [
        f"missing {hedge_type.value}.{role.value}"
        for hedge_type, roles in REQUIRED_ROLES.items()
        for role in roles
        if role not in codes.get(hedge_type, {})
    ]


def _demo() -> ChartOfAccounts:
    shared = {"derivative_asset": "1450", "derivative_liability": "2450", "hedge_ineffectiveness": "7410"}
    shared |= {"fx_gain_loss": "7400"}
    return ChartOfAccounts.from_mapping(
        {
            "cash_flow": shared | {"cash_flow_hedge_reserve": "3510", "inventory_basis_adjustment": "1310"},
            "fair_value": shared | {"hedged_item_basis_adjustment": "1460"},
            "net_investment": shared | {"translation_reserve": "3520"},
        }
    )


#: The demo's chart: derivatives 1450/2450, inventory basis 1310, hedged-item basis 1460,
#: cash flow hedge reserve 3510, translation reserve 3520, FX gain/loss 7400, ineffectiveness 7410.
DEFAULT_CHART = _demo()
