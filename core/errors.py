"""Errors of the domain. Business outcomes are values, not exceptions; these are for
input that cannot be used at all."""

from __future__ import annotations


class HedgeopsError(Exception):
    """Base of every error the project raises on purpose."""


class NotAFileOfThisKind(HedgeopsError):
    """The file is not the kind of file expected (wrong header, not CSV at all)."""


class InvalidInput(HedgeopsError):
    """Input rows were rejected; nothing of the input was written."""

    def __init__(self, message: str, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


class ContractChanged(HedgeopsError):
    """A contract row differs from the stored contract in fields other than status."""
