"""Where the work runs, decided in one place from the settings and the command's flag.

- embedded: no broker, the SQLite file: every task in this process (the demo, a laptop);
- in-process: no broker, a server database, and the command was given `--in-process`;
- distributed: a broker and a database named by HEDGEOPS_DATABASE_URL: tasks go to workers.

Mixes are refused before anything is created or sent, with one line naming both settings:
a server database without a broker unless `--in-process` says that running the work here
is meant (a missing broker URL must not quietly turn a production CLI into a worker), and
`--in-process` with a broker. A broker without a database URL is refused by load_settings
(workers.settings_checks) in every process."""

from __future__ import annotations

from enum import StrEnum

from workers.settings import Settings, SettingsError

BROKER, DATABASE = "HEDGEOPS_BROKER_URL", "HEDGEOPS_DATABASE_URL"


class Mode(StrEnum):
    EMBEDDED = "embedded"
    IN_PROCESS = "in_process"
    DISTRIBUTED = "distributed"


def server_database(settings: Settings) -> bool:
    return not settings.database_url.startswith("sqlite")


def execution_mode(settings: Settings, *, in_process: bool = False) -> Mode:
    """The mode a command that runs work asks for; SettingsError (exit 2) for a mix. (A broker
    without a database URL never gets here: load_settings refuses it in every process.)"""
    if settings.distributed:
        if in_process:
            raise SettingsError(
                f"--in-process runs the work in this process but {BROKER} is set (work goes to the workers): "
                f"unset {BROKER} for this command, or leave out --in-process"
            )
        return Mode.DISTRIBUTED
    if not server_database(settings):
        return Mode.EMBEDDED
    if in_process:
        return Mode.IN_PROCESS
    raise SettingsError(
        f"{DATABASE} is a server database but {BROKER} is not set: set {BROKER} to send the work to the "
        "workers, or pass --in-process to run it in this process"
    )


def node_mode(settings: Settings) -> Mode:
    """A worker, beat or Flower: never in-process on a server database (a beat without a
    broker would run every scheduled job inside itself)."""
    return execution_mode(settings, in_process=False)
