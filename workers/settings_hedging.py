"""Hedge accounting's FX valuation settings: rate curves over the flat discount rates,
what values a forward without a stored quote, the ECB crosses to derive and the
functional currency. Mixed into workers.settings.Settings."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings

from core.hedging.accounts import DEFAULT_CHART, ChartOfAccounts, ChartOfAccountsError
from core.hedging.curves import curve_from
from core.hedging.fx import RateSource, is_pair
from core.hedging.policy import HedgingPolicy

CURRENCY = re.compile(r"^[A-Z]{3}$")


class HedgingSettings(BaseSettings):
    rate_curves: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "rate curves by currency over HEDGEOPS_DISCOUNT_RATES, JSON: a flat rate or [tenor, rate] "
            'points interpolated linearly in time, e.g. {"USD": [["1M", "0.053"], ["1Y", "0.048"]], "CHF": '
            '"-0.0075"}; negative rates allowed'
        ),
    )
    rate_curves_file: Path | None = Field(
        None, description="a JSON file of rate curves (the form of HEDGEOPS_RATE_CURVES); wins over it"
    )
    fx_forward_method: Literal["cip", "spot_proxy"] = Field(
        "cip",
        description=(
            "what values an FX forward without a stored forward quote: cip (covered interest parity from "
            "the D-1 spot and both currencies' curves) or spot_proxy (the spot itself, no forward points)"
        ),
    )
    ecb_crosses: list[str] = Field(
        default_factory=list,
        description=(
            'pairs derived from the ECB\'s EUR rates as price rows of source ecb_cross, JSON: ["GBPUSD", "USDEUR"]'
        ),
    )
    functional_currency: str | None = Field(
        None, description="currency every snapshot's MTM is also converted into at the D-1 rate (unset: none)"
    )
    chart_of_accounts: dict[str, dict[str, str]] | None = Field(
        None,
        description=(
            "account codes hedge accounting entries post to, per hedge type and role, JSON: "
            '{"cash_flow": {"derivative_asset": "1450", ...}, "fair_value": {...}, "net_investment": {...}}; '
            "every role each hedge type posts to is required (unset: the demo's chart, see README)"
        ),
    )
    chart_of_accounts_file: Path | None = Field(
        None, description="a JSON file of the chart of accounts (the form of HEDGEOPS_CHART_OF_ACCOUNTS); wins over it"
    )
    postings_chunk_size: int = Field(1000, ge=1, le=50_000, description="relationships per postings chunk task")

    @field_validator("rate_curves", "ecb_crosses", "chart_of_accounts", mode="before")
    @classmethod
    def _fx_json(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    @field_validator("rate_curves")
    @classmethod
    def _fx_curves(cls, value: dict[str, Any]) -> dict[str, Any]:
        for currency, curve in value.items():
            if not CURRENCY.match(currency):
                raise ValueError(f"{currency}: currencies are 3 capitals")
            try:
                curve_from(curve)
            except (ValueError, ArithmeticError) as exc:
                raise ValueError(f"{currency}: {exc}") from None
        return value

    @field_validator("ecb_crosses")
    @classmethod
    def _fx_crosses(cls, value: list[str]) -> list[str]:
        for pair in value:
            if not is_pair(pair) or pair[:3] == pair[3:] or pair.startswith("EUR"):
                raise ValueError(f"{pair}: a cross is six capitals, two currencies, not EURxxx (the ECB gives those)")
        return value

    @field_validator("functional_currency")
    @classmethod
    def _fx_currency(cls, value: str | None) -> str | None:
        if value is not None and not CURRENCY.match(value):
            raise ValueError(f"{value}: a currency is 3 capitals")
        return value or None

    @model_validator(mode="after")
    def _fx_curves_from_file(self) -> HedgingSettings:
        if self.rate_curves_file is not None:
            try:
                raw = json.loads(self.rate_curves_file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ValueError(f"rate_curves_file {self.rate_curves_file}: {exc}") from None
            self.rate_curves = self._fx_curves(raw if isinstance(raw, dict) else {"?": raw})
        return self

    @model_validator(mode="after")
    def _chart_complete(self) -> HedgingSettings:
        if self.chart_of_accounts_file is not None:
            try:
                raw = json.loads(self.chart_of_accounts_file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ValueError(f"HEDGEOPS_CHART_OF_ACCOUNTS_FILE {self.chart_of_accounts_file}: {exc}") from None
            self.chart_of_accounts = raw if isinstance(raw, dict) else {"?": raw}
        if self.chart_of_accounts is not None:
            self.chart()
        return self

    def chart(self) -> ChartOfAccounts:
        """The chart of accounts (the demo's when none is set); ValueError naming every gap."""
        if self.chart_of_accounts is None:
            return DEFAULT_CHART
        if not all(isinstance(roles, dict) for roles in self.chart_of_accounts.values()):
            raise ValueError("HEDGEOPS_CHART_OF_ACCOUNTS: expected {hedge type: {role: account code}}")
        try:
            return ChartOfAccounts.from_mapping(self.chart_of_accounts)
        except ChartOfAccountsError as exc:
            raise ValueError(f"HEDGEOPS_CHART_OF_ACCOUNTS: {exc}") from None

    def with_fx_valuation(self, policy: HedgingPolicy) -> HedgingPolicy:
        """`policy` with this process's curves, FX method and functional currency."""
        return replace(
            policy,
            rate_curves=dict(self.rate_curves),
            fx_method=RateSource(self.fx_forward_method),
            functional_currency=self.functional_currency,
        )
