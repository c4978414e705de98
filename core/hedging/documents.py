"""Reading the JSON input files of hedge accounting: a document is an object with one
list under a known key. Numbers are read as Decimal, never as binary floats."""
from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any

from pydantic import StringConstraints, ValidationError

from core.errors import NotAFileOfThisKind

#: References (item_ref, designation_ref, contract_ref): readable, no separators of keys.
Ref = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")]
#: A person's id (designator, approvers).
Person = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
#: Free text of a dossier.
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


def json_entries(text: str, file: str, key: str) -> list[Any]:
    """The list under `key`; NotAFileOfThisKind when the text is not such a document."""
    try:
        document = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise NotAFileOfThisKind(f"{file}: not JSON ({exc})") from None
    except RecursionError:
        raise NotAFileOfThisKind(f"{file}: JSON nested too deeply to be a {key.replace('_', ' ')} file") from None
    if not isinstance(document, dict) or not isinstance(document.get(key), list):
        raise NotAFileOfThisKind(f'{file}: not a {key.replace("_", " ")} file: expected {{"{key}": [...]}}')
    return list(document[key])


def describe_entry(error: ValidationError) -> str:
    """One clause per failed field, the field named first; a rule of the whole entry speaks
    for itself (`approver_2: ...`)."""
    parts = []
    for item in error.errors():
        message = str(item["msg"]).removeprefix("Value error, ")
        where = ".".join(str(x) for x in item["loc"])
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)
