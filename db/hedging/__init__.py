"""Hedge accounting rows: hedged items, designation dossiers, effectiveness results."""
