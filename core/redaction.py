"""The redaction rule: secrets never leave the process in a log line, a stored error, an
audit event or a command's output. Pure: text and JSON-like values in, redacted out.

What is a secret: a URL's password, a `password=...` written out, a field named like a
secret, and every secret this process holds (its settings' passwords, a credential it read),
wherever and however it shows up (a server's error text echoing it, a terminal's message).
The wiring tells which those are (`remember_secrets`): the one piece of state here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

#: Field names whose values are secrets, whatever they hold.
#: A webhook URL is one (Slack's, Telegram's hold their token in the path).
SECRET_KEYS = re.compile(r"pass(word|wd)?|secret|token|api_?key|authorization|credential|webhook_?url", re.IGNORECASE)
#: `scheme://user:password@`: the password part of a URL's userinfo. Found from its `://`
#: (a literal: the regex engine finds it without trying a match at every character), then
#: a scheme character before it; no part gives back what it took (possessive). Linear on any
#: text; the former `[a-z][a-z0-9+.-]*://` was tried at every letter of a long run of letters
#: and read the rest of the run each time: quadratic (issue 21). It redacts a little more than
#: the former did: a "scheme" of digits or signs alone (`8080://u:pw@`) too.
URL_CREDENTIALS = re.compile(r"://(?<=[a-z0-9+.-]://)(?P<user>[^:/@\s]*+):(?P<pw>[^@/\s]++)@", re.IGNORECASE)
#: `password=...` written out in a text (a DSN, a query string, a repr). Possessive for the
#: same reason: what a part took is never tried again by a shorter take.
SECRET_ASSIGNMENTS = re.compile(
    r"(?P<name>(?:pass(?:word|wd)?|secret|token|api_?key)['\"]?+\s*+[=:]\s*+['\"]?+)(?P<value>[^'\"\s&,;)}]++)",
    re.IGNORECASE,
)
REDACTED = "***"
#: A held secret shorter than this is redacted only where its form says it is one (a URL's
#: password, `password=`): a bare `pw` would blank every word it is part of.
MIN_HELD_SECRET = 6
#: The secrets this process holds, longest first, raw and percent-encoded.
_held: list[str] = []


def remember_secrets(*values: str | None) -> None:
    """Secrets this process holds: from now on each is redacted wherever it appears."""
    found = set(_held)
    for value in values:
        if value and len(value) >= MIN_HELD_SECRET:
            found.update({value, _unquoted(value), _quoted(value)})
    _held[:] = sorted((s for s in found if len(s) >= MIN_HELD_SECRET), key=len, reverse=True)


def _quoted(text: str) -> str:
    """Percent-encoded as in a URL (`p@ss` -> `p%40ss`)."""
    return "".join(
        c if c.isascii() and (c.isalnum() or c in "-._~") else "".join(f"%{b:02X}" for b in c.encode()) for c in text
    )


def _unquoted(text: str) -> str:
    """`p%40ss` -> `p@ss` (a URL's password as written -> as it is)."""
    raw = re.sub(rb"%([0-9A-Fa-f]{2})", lambda m: bytes([int(m[1], 16)]), text.encode())
    return raw.decode(errors="replace")


def forget_secrets() -> None:
    """Tests: a process that holds none."""
    _held.clear()


def secrets_in(value: Any) -> Iterator[str]:
    """The secrets a JSON-like value (settings dumped) holds: the passwords of the URLs in its
    strings, the values of its secret-named fields, whatever has `get_secret_value`."""
    if isinstance(value, str):
        for match in URL_CREDENTIALS.finditer(value):
            yield match["pw"]
    elif hasattr(value, "get_secret_value"):
        yield str(value.get_secret_value())
    elif isinstance(value, dict):
        for key, item in value.items():
            if SECRET_KEYS.search(str(key)) and isinstance(item, str):
                yield item
            else:
                yield from secrets_in(item)
    elif isinstance(value, list | tuple | set):
        for item in value:
            yield from secrets_in(item)


def redact_text(text: str) -> str:
    """`redis://user:pw@host` -> `redis://user:***@host`; `password=pw` -> `password=***`;
    a secret the process holds -> `***`."""
    for secret in _held:
        if secret in text:
            text = text.replace(secret, REDACTED)
    if "://" in text:  # a pattern is run only where its form can be: a text without one is read once
        text = URL_CREDENTIALS.sub(lambda m: f"://{m['user']}:{REDACTED}@", text)
    if "=" in text or ":" in text:
        text = SECRET_ASSIGNMENTS.sub(lambda m: f"{m['name']}{REDACTED}", text)
    return text


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
