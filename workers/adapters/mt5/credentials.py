"""Passwords by reference: `env:NAME` reads the worker's environment, `file:/path` a
secrets file (its content, less one trailing newline). The value is wrapped in a Secret
at once; errors name the reference, never the value."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from core.mt5.accounts import CredentialKind, parse_credential_ref
from core.mt5.gateway import CredentialUnavailable
from core.mt5.values import Secret
from core.redaction import remember_secrets


class EnvOrFileCredentials:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def password(self, reference: str) -> Secret:
        try:
            ref = parse_credential_ref(reference)
        except ValueError as exc:
            raise CredentialUnavailable("(stored reference)", str(exc)) from None
        if ref.kind is CredentialKind.ENV:
            value = self._environ.get(ref.target)
            if value is None:
                raise CredentialUnavailable(str(ref), "no such environment variable")
            return _held(value)
        try:
            text = Path(ref.target).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CredentialUnavailable(str(ref), f"cannot read the file ({type(exc).__name__})") from None
        return _held(text.removesuffix("\n"))


def _held(value: str) -> Secret:
    """A password this process now holds: redacted wherever it shows up (a terminal's error)."""
    remember_secrets(value)
    return Secret(value)
