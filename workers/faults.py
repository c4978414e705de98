"""Fault injection for crash tests: `HEDGEOPS_FAULT_INJECT=after_intent_commit` makes the
process SIGKILL itself the first time the guard passes that point (once per process start
and point: a marker file beside the state keeps a restarted worker from dying again).
Empty in production: the hook does nothing."""

from __future__ import annotations

import os
import signal
import tempfile
from collections.abc import Callable
from pathlib import Path

from core.mt5.ports import no_fault


def fault_hook(spec: str) -> Callable[[str], None]:
    points = {p.strip() for p in spec.split(",") if p.strip()}
    if not points:
        return no_fault
    markers = Path(os.environ.get("HEDGEOPS_FAULT_DIR", tempfile.gettempdir()))

    def hook(point: str) -> None:
        marker = markers / f"hedgeops-fault-{point}"
        if point in points and not marker.exists():
            marker.write_text(str(os.getpid()), encoding="utf-8")
            os.kill(os.getpid(), signal.SIGKILL)

    return hook
