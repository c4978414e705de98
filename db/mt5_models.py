"""MT5 tables: accounts, position snapshots, expected positions, reconciliation logs."""
from __future__ import annotations
