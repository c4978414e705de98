"""Start-up checks of the settings as a whole, made by `load_settings` in every process
(CLI, worker, beat, Flower) before anything is created or sent.

A misspelt HEDGEOPS_* variable would otherwise be ignored without a word (pydantic-settings
ignores names it does not know) and the process would run on a default: a worker given
HEDGEOPS_DATABSE_URL would write the embedded SQLite file. So every HEDGEOPS_* name of the
environment and of the `.env` file must be a setting (or one of the few variables read
outside the settings); an unknown one stops the process with one line naming it and the
closest known name, unless HEDGEOPS_ALLOW_UNKNOWN_SETTINGS=true makes it a warning."""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from dotenv import dotenv_values

PREFIX = "HEDGEOPS_"
#: Variables read outside the settings: Flower's dev switch, the fault tests' marker folder
#: and book size, and the test suite's service URLs (tests/services.py).
OTHER_NAMES = frozenset(
    {
        "HEDGEOPS_FLOWER_INSECURE_DEV",
        "HEDGEOPS_FAULT_DIR",
        "HEDGEOPS_FAULTS_BOOK",
        "HEDGEOPS_TEST_PG_ADMIN_URL",
        "HEDGEOPS_TEST_REDIS_URL",
        "HEDGEOPS_TEST_E2E_REDIS_URL",
    }
)


def present_names(environ: Mapping[str, str], env_file: Path | None) -> dict[str, str]:
    """Every HEDGEOPS_* name given, upper-cased (settings are read without case), and where:
    `environment` or the .env file."""
    found: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        found.update({k.upper(): str(env_file) for k in dotenv_values(env_file) if k.upper().startswith(PREFIX)})
    found.update({k.upper(): "environment" for k in environ if k.upper().startswith(PREFIX)})
    return found


def unknown_names(fields: Iterable[str], given: Mapping[str, str]) -> list[str]:
    """One phrase per unknown name: the name, where it was given, the closest known name."""
    known = {PREFIX + field.upper() for field in fields} | OTHER_NAMES
    stems = sorted(name.removeprefix(PREFIX) for name in known)  # the shared prefix would make every name close
    phrases = []
    for name in sorted(set(given) - known):
        close = difflib.get_close_matches(name.removeprefix(PREFIX), stems, n=1, cutoff=0.6)
        phrases.append(f"{name} ({given[name]}{f'; did you mean {PREFIX}{close[0]}?' if close else ''})")
    return phrases


def unknown_settings(fields: Iterable[str], env_file: Path | None) -> list[str]:
    """The unknown HEDGEOPS_* names of this process's environment and .env file."""
    return unknown_names(fields, present_names(os.environ, env_file))


def unknown_message(phrases: list[str]) -> str:
    several = len(phrases) > 1
    return (
        f"unknown setting{'s' if several else ''} {', '.join(phrases)}: correct or remove "
        f"{'them' if several else 'it'}, or set HEDGEOPS_ALLOW_UNKNOWN_SETTINGS=true to start with a warning"
    )


def broker_without_database(distributed: bool, database_named: bool) -> str | None:
    """A broker URL needs a database URL beside it: without one each worker, beat and CLI would
    use (and create) an embedded SQLite file of its own."""
    if distributed and not database_named:
        return (
            "HEDGEOPS_BROKER_URL is set but HEDGEOPS_DATABASE_URL is not: workers and this process would each "
            "use a SQLite file of their own; set HEDGEOPS_DATABASE_URL (postgresql+psycopg://...) or unset "
            "HEDGEOPS_BROKER_URL"
        )
    return None
