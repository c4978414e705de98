"""Identifiers are plain (issue 21, point 4): one module of the ASCII patterns every loader
checks its identifiers against, and the text-control check of every text field.

A contract_ref of a Cyrillic К, a fullwidth Ｋ, or one with a zero-width space or a
right-to-left override in it looks the same as the plain one on a screen and in a report,
and is another contract; a unit `mт` (Cyrillic т) is another unit. Identifiers are therefore
ASCII, of the shapes below (README, "File formats", lists them), and no text field holds a
control: C0 and C1 controls, bidirectional controls (U+061C, U+200E, U+200F, U+202A-U+202E,
U+2066-U+2069) or zero-width characters (U+200B-U+200D, U+2060-U+2064, U+FEFF).

The patterns are written with explicit ASCII classes (never `\\w` or `\\d`, which read every
script's letters and digits) and anchored as pydantic reads them (`StringConstraints`: the
whole text), and as `fullmatch` reads them in Python.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

#: A reference a person gives a thing (contract_ref, item_ref, a designation's ref): a letter
#: or digit, then letters, digits, `.`, `_`, `/`, `-`; 1 to 64 characters.
REF_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$"
#: A price symbol: upper-case letters, digits, `.`, `_`, `-`; 1 to 32 characters, starting
#: with a letter or digit (LME-AL, EURUSD, BRN.F).
SYMBOL_PATTERN = r"^[A-Z0-9][A-Z0-9._-]{0,31}$"
#: A unit of quantity: a letter, then letters, digits or `_`; 1 to 16 characters (mt, bbl,
#: MMBtu, EUR for an FX forward's base currency).
UNIT_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,15}$"
#: A currency: three upper-case ASCII letters (and an ISO 4217 code: core.prices).
CURRENCY_PATTERN = r"^[A-Z]{3}$"
#: An MT5 login: a positive integer of at most 20 digits, no sign, no leading zero.
LOGIN_PATTERN = r"^[1-9][0-9]{0,19}$"

#: Characters no text field of ours holds: C0 (tabs and line breaks too), DEL and C1
#: controls, bidirectional controls and zero-width characters.
TEXT_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def control_in(text: str) -> str | None:
    """`control character U+202E refused` for the first control in `text`, or None."""
    found = TEXT_CONTROLS.search(text)
    return None if found is None else f"control character U+{ord(found.group()):04X} refused"


def plain_text(value: str) -> str:
    """A text field's validator: refused when it holds a control (see TEXT_CONTROLS)."""
    problem = control_in(value)
    if problem is not None:
        raise ValueError(problem)
    return value


Ref = Annotated[str, StringConstraints(pattern=REF_PATTERN)]
Symbol = Annotated[str, StringConstraints(pattern=SYMBOL_PATTERN)]
Unit = Annotated[str, StringConstraints(pattern=UNIT_PATTERN)]
Login = Annotated[str, StringConstraints(pattern=LOGIN_PATTERN)]
#: Free text (a name, a note, a description): any script, no control.
PlainText = Annotated[str, AfterValidator(plain_text)]
