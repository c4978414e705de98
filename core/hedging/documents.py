"""Reading the JSON input files of hedge accounting: a document is an object with one
list under a known key. Numbers are read as Decimal, never as binary floats."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Hashable
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, StringConstraints, ValidationError

from core.errors import NotAFileOfThisKind
from core.rows import DateWindow, window_context

M = TypeVar("M", bound=BaseModel)

#: References (item_ref, designation_ref, contract_ref): readable, no separators of keys.
Ref = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")]
#: A person's id (designator, approvers).
Person = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
#: Free text of a dossier.
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
#: Control characters no text of a document holds (free text may break lines and tab):
#: NUL is refused by PostgreSQL, the others are terminal escapes and bells.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def json_entries(text: str, file: str, key: str) -> list[Any]:
    """The list under `key`; NotAFileOfThisKind when the text is not such a document."""
    try:
        document = json.loads(text, parse_float=Decimal)
    except ValueError as exc:  # JSONDecodeError, and a number of more than 4,300 digits
        raise NotAFileOfThisKind(f"{file}: not JSON ({exc})") from None
    except RecursionError:
        raise NotAFileOfThisKind(f"{file}: JSON nested too deeply to be a {key.replace('_', ' ')} file") from None
    if not isinstance(document, dict) or not isinstance(document.get(key), list):
        raise NotAFileOfThisKind(f'{file}: not a {key.replace("_", " ")} file: expected {{"{key}": [...]}}')
    return list(document[key])


def validated_entries(
    text: str,
    file: str,
    key: str,
    model: type[M],
    window: DateWindow,
    identity: Callable[[M], Hashable],
    twice: Callable[[M], str],
) -> tuple[list[M], list[str]]:
    """Every entry under `key` validated as `model`, its dates within `window`: (good rows,
    one error per bad entry naming it, `file: key[i]: ...`). Two entries of one `identity`:
    the second is an error (`twice` says why)."""
    rows: list[M] = []
    errors: list[str] = []
    seen: set[Hashable] = set()
    for index, entry in enumerate(json_entries(text, file, key)):
        where = f"{file}: {key}[{index}]"
        if (problem := control_problem(entry)) is not None:
            errors.append(f"{where}: {problem}")
            continue
        try:
            row = model.model_validate(entry, context=window_context(window))
        except ValidationError as exc:
            errors.append(f"{where}: {describe_entry(exc)}")
            continue
        if (ident := identity(row)) in seen:
            errors.append(f"{where}: {twice(row)}")
            continue
        seen.add(ident)
        rows.append(row)
    return rows, errors


def control_problem(value: Any, where: str = "") -> str | None:
    """The first text (or key) of an entry holding a control character, named by its path:
    `documentation.hedging_strategy: control character U+0000 refused`."""
    if isinstance(value, str):
        found = CONTROL.search(value)
        return f"{where or 'entry'}: control character U+{ord(found.group()):04X} refused" if found else None
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        path = CONTROL.sub("?", f"{where}.{key}" if where else str(key))  # the path printed without them
        problem = control_problem(key, path) if isinstance(key, str) else None
        problem = problem or control_problem(child, path)
        if problem:
            return problem
    return None


def describe_entry(error: ValidationError) -> str:
    """One clause per failed field, the field named first; a rule of the whole entry speaks
    for itself (`approver_2: ...`)."""
    parts = []
    for item in error.errors():
        message = str(item["msg"]).removeprefix("Value error, ")
        where = ".".join(str(x) for x in item["loc"])
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)
