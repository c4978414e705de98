"""Price sources from their settings: one adapter per configured source."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from core.ports import PriceSource
from workers.adapters.ecb import EcbCrossPriceSource, EcbFilePriceSource, cross_currencies
from workers.adapters.http_json import HttpJsonPriceSource
from workers.adapters.vendor_csv import VendorCsvDropFolder
from workers.settings import Settings, SourceSpec


def build_source(spec: SourceSpec, settings: Settings, clock: Callable[[], datetime]) -> PriceSource:
    if spec.kind == "drop_folder":
        return VendorCsvDropFolder(spec.name, spec.path or settings.price_drop_dir, spec.symbols, clock)
    if spec.kind == "ecb_file":
        return EcbFilePriceSource(spec.name, spec.path, spec.currencies, clock, spec.lookback_days)
    assert spec.url is not None  # the settings refuse an http_json source without one
    return HttpJsonPriceSource(spec.name, spec.url, spec.symbols, clock, timeout=spec.timeout, retries=spec.retries)


def build_sources(settings: Settings, clock: Callable[[], datetime]) -> list[PriceSource]:
    """Every configured source, then the ECB crosses (HEDGEOPS_ECB_CROSSES) when any are set."""
    sources = [build_source(spec, settings, clock) for spec in settings.price_sources]
    crosses = cross_source(settings, clock)
    return [*sources, crosses] if crosses is not None else sources


def cross_source(settings: Settings, clock: Callable[[], datetime]) -> EcbCrossPriceSource | None:
    """The `ecb_cross` source: the crosses derived from the file of the first ECB source
    (the shipped history when none is configured)."""
    if not settings.ecb_crosses:
        return None
    spec = next((s for s in settings.price_sources if s.kind == "ecb_file"), None)
    legs = EcbFilePriceSource(spec.name if spec else "ecb", spec.path if spec else None,
                              cross_currencies(settings.ecb_crosses), clock, spec.lookback_days if spec else 10)
    return EcbCrossPriceSource(legs, settings.ecb_crosses)


def source_named(settings: Settings, name: str, clock: Callable[[], datetime]) -> PriceSource:
    for spec in settings.price_sources:
        if spec.name == name:
            return build_source(spec, settings, clock)
    crosses = cross_source(settings, clock)
    if crosses is not None and crosses.name == name:
        return crosses
    raise KeyError(f"no price source named {name!r} (configured: {', '.join(s.name for s in settings.price_sources)})")
