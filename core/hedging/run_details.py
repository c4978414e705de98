"""What an effectiveness run records of its plan (core.run_details explains the parts)."""

from __future__ import annotations

from core.run_details import DetailsPart


class EffectivenessPlan(DetailsPart):
    """The designations under test at the run's date and the chunk size they were split by."""

    designations: int
    chunk_size: int | None = None
