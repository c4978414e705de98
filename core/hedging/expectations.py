"""The "no longer expected" file: a person records that a relationship's hedged cash flows
are no longer expected (IFRS 9 6.5.12(b): the cash flow hedge reserve is then reclassified
to profit or loss at once). `{"no_longer_expected": [{"designation_ref", "recorded_by",
"reason", "effective_date"}]}`; the rule that releases the reserve is core's posting rule."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from core.hedging.documents import Person, Ref, Text, validated_entries
from core.rows import DEFAULT_WINDOW, DateWindow, SaneDate

KEY = "no_longer_expected"


class NoLongerExpectedRow(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    designation_ref: Ref
    recorded_by: Person
    reason: Text
    effective_date: SaneDate

    def payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def parse_no_longer_expected(
    text: str, file: str, window: DateWindow = DEFAULT_WINDOW
) -> tuple[list[NoLongerExpectedRow], list[str]]:
    """(good rows, errors naming the entry); a designation named twice is an error."""
    return validated_entries(
        text,
        file,
        KEY,
        NoLongerExpectedRow,
        window,
        lambda row: row.designation_ref,
        lambda row: f"designation_ref {row.designation_ref} repeated",
    )
