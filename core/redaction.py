"""The redaction rule: secrets never leave the process in a log line, a stored error, an
audit event or a command's output. Pure: text and JSON-like values in, redacted out."""
from __future__ import annotations

import re
from typing import Any

#: Field names whose values are secrets, whatever they hold.
SECRET_KEYS = re.compile(r"pass(word|wd)?|secret|token|api_?key|authorization|credential", re.IGNORECASE)
#: `scheme://user:password@`: the password part of a URL's userinfo.
URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@", re.IGNORECASE)
#: `password=...` written out in a text (a DSN, a query string, a repr).
SECRET_ASSIGNMENTS = re.compile(
    r"(?P<name>(pass(word|wd)?|secret|token|api_?key)['\"]?\s*[=:]\s*['\"]?)(?P<value>[^'\"\s&,;)}]+)", re.IGNORECASE)
REDACTED = "***"


def redact_text(text: str) -> str:
    """`redis://user:pw@host` -> `redis://user:***@host`; `password=pw` -> `password=***`."""
    text = URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:{REDACTED}@", text)
    return SECRET_ASSIGNMENTS.sub(lambda m: f"{m['name']}{REDACTED}", text)


def redact_value(value: Any) -> Any:
    """Strings redacted, secret-named fields of mappings replaced, through lists and dicts."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: REDACTED if SECRET_KEYS.search(str(k)) else redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(v) for v in value)
    return value


def redacted_error(exc: BaseException) -> str:
    """An exception as a stored or printed error: `Type: message`, redacted."""
    return redact_text(f"{type(exc).__name__}: {exc}")
