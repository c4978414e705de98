"""What a terminal's sync cycle records (core.run_details explains the parts): at its start
the terminal and the logins it is limited to (None: every enabled account), which its plan
and a re-plan read back; then the accounts planned and the chunk size. Which logins failed
and why is the shared `failures` (core.run_details.RunRecord): the run lifecycle puts them
into a failed cycle's error."""

from __future__ import annotations

from core.run_details import DetailsPart


class CycleDetails(DetailsPart):
    terminal: str
    logins: list[int] | None = None
    accounts: int | None = None
    chunk_size: int | None = None
