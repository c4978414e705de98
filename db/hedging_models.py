"""Hedge accounting tables: hedged items, designation dossiers, effectiveness results."""
from __future__ import annotations
