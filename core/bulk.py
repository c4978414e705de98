"""Bulk work in memory: pausing the cyclic garbage collector. It touches the interpreter
only (no I/O, no clock), so every layer that allocates rows by the hundred thousand (the
ECB parser of workers, the price writes of tasks) uses this one helper."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Allocating hundreds of thousands of rows at once (an ECB history, a big price file)
    makes the cyclic garbage collector scan them again and again: half the time of a parse.
    Our rows hold no cycles; pause the collector for the bulk work, then collect once."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
