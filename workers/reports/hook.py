"""The nightly's hook: with HEDGEOPS_REPORTS_DIR set, each nightly that ends writes the morning
pack of its date there. A page that cannot be written is logged, never a failed nightly."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import structlog

from workers.settings import Settings

log = structlog.get_logger(__name__)


def morning_pack_writer(settings: Settings) -> Callable[[date], None] | None:
    folder = settings.reports_dir
    if folder is None:
        return None

    def write(day: date) -> None:
        from tasks.ports import utc_now
        from workers.reports.morning import write_morning

        try:
            page = write_morning(settings, day, folder, utc_now())
        except Exception as exc:  # noqa: BLE001 - the nightly has ended and committed: report, go on
            log.warning("morning_pack_failed", as_of=day.isoformat(), folder=str(folder), error=str(exc))
            return
        log.info("morning_pack_written", as_of=day.isoformat(), page=str(page))

    return write
