"""Price sources from their settings: one adapter per configured source."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from core.ecb import EcbCrosses
from core.ports import PriceSource
from workers.adapters.drop_files import FileLimits
from workers.adapters.ecb import EcbFilePriceSource
from workers.adapters.http_json import HttpJsonPriceSource
from workers.adapters.vendor_csv import VendorCsvDropFolder
from workers.settings import Settings, SourceSpec


def build_source(spec: SourceSpec, settings: Settings, clock: Callable[[], datetime]) -> PriceSource:
    if spec.kind == "drop_folder":
        return VendorCsvDropFolder(
            spec.name,
            spec.path or settings.price_drop_dir,
            spec.symbols,
            clock,
            settings.date_window,
            file_limits(settings),
        )
    if spec.kind == "ecb_file":
        return EcbFilePriceSource(
            spec.name, spec.path, spec.currencies, clock, spec.lookback_days, settings.date_window
        )
    assert spec.url is not None  # the settings refuse an http_json source without one
    return HttpJsonPriceSource(
        spec.name,
        spec.url,
        spec.symbols,
        clock,
        timeout=spec.timeout,
        retries=spec.retries,
        window=settings.date_window,
    )


def file_limits(settings: Settings) -> FileLimits:
    """What a price file may be (HEDGEOPS_DROP_SETTLE_SECONDS, _PRICE_FILE_MAX_MB, _PRICE_FILE_READ_SECONDS)."""
    return FileLimits(
        settle_seconds=settings.drop_settle_seconds,
        max_bytes=settings.price_file_max_mb * 1024 * 1024,
        read_seconds=settings.price_file_read_seconds,
    )


def build_sources(settings: Settings, clock: Callable[[], datetime]) -> list[PriceSource]:
    return [build_source(spec, settings, clock) for spec in settings.price_sources]


def ecb_crosses(settings: Settings) -> EcbCrosses | None:
    """The crosses to derive (HEDGEOPS_ECB_CROSSES) from the stored rows of the first ECB
    source (the settings refuse crosses without one that stores their legs)."""
    spec = next((s for s in settings.price_sources if s.kind == "ecb_file"), None)
    if not settings.ecb_crosses or spec is None:
        return None
    return EcbCrosses(tuple(sorted(set(settings.ecb_crosses))), spec.name)
