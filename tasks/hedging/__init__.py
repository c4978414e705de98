"""Hedge accounting tasks: effectiveness tests, loading hedged items and designations."""
