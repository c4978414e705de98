"""The pricing variance control's settings (core.price_checks): which configured source
verifies which symbols, the threshold and its overrides, and whether a flagged price blocks
valuation. Mixed into workers.settings.Settings, which checks the sources are configured."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings

from core.price_checks import DEFAULT_VARIANCE_PCT, MANUAL_SOURCE, PriceChecks

SYMBOL_PATTERN = re.compile(r"^[A-Za-z0-9*?.\[\]_:/-]{1,32}$")


class PriceCheckSettings(BaseSettings):
    price_verification: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "the verification source of each symbol, JSON {symbol or shell pattern: configured source name}, "
            'e.g. {"EURUSD": "ecb", "LME-*": "lme_check"}; empty: no verification (docs/price-verification.md)'
        ),
    )
    price_variance_pct: Decimal = Field(
        DEFAULT_VARIANCE_PCT,
        gt=0,
        le=100,
        description="relative variance |p - v| / v (%) above which a D-1 price is flagged against its verification one",
    )
    price_variance_pct_by_symbol: dict[str, Decimal] = Field(
        default_factory=dict,
        description='per-symbol thresholds (%) over HEDGEOPS_PRICE_VARIANCE_PCT, JSON: {"LME-NI": "2.5"}',
    )
    price_variance_blocks: bool = Field(
        False,
        description=(
            "a flagged price values no contract (`price_unverified`) until a person accepts or replaces it "
            "(`hedgeops load price-decisions`)"
        ),
    )

    @field_validator("price_verification", "price_variance_pct_by_symbol", mode="before")
    @classmethod
    def _checks_json(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    @field_validator("price_verification", "price_variance_pct_by_symbol")
    @classmethod
    def _checks_symbols(cls, value: dict[str, Any]) -> dict[str, Any]:
        for pattern in value:
            if not SYMBOL_PATTERN.match(pattern):
                raise ValueError(f"{pattern!r}: not a symbol or a shell pattern of symbols")
        return value

    @field_validator("price_variance_pct_by_symbol")
    @classmethod
    def _checks_pcts(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for pattern, pct in value.items():
            if not Decimal(0) < pct <= 100:
                raise ValueError(f"{pattern}: {pct}: a threshold is a percentage above 0, at most 100")
        return value

    def verification_problem(self, configured: Iterable[str]) -> str | None:
        """HEDGEOPS_PRICE_VERIFICATION naming a source that is not configured (a typo), or the
        manual prices: one line saying so."""
        names = sorted(configured)
        for pattern, source in sorted(self.price_verification.items()):
            if source == MANUAL_SOURCE or source not in names:
                return (
                    f"HEDGEOPS_PRICE_VERIFICATION: {pattern}: {source} is not a configured price source "
                    f"(configured: {', '.join(names)})"
                )
        return None

    def price_checks(self) -> PriceChecks:
        return PriceChecks(
            verifiers=dict(self.price_verification),
            threshold_pct=self.price_variance_pct,
            threshold_pct_by_symbol=dict(self.price_variance_pct_by_symbol),
            blocks=self.price_variance_blocks,
        )
