"""`hedgeops flower`: Flower for this app, locked by default: bound to 127.0.0.1 unless
told otherwise, and never without basic-auth credentials (HEDGEOPS_FLOWER_USER and
HEDGEOPS_FLOWER_PASSWORD) unless `--insecure-dev` says so. The password reaches Flower in
its environment (FLOWER_BASIC_AUTH), never on a command line (`ps` shows those)."""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Annotated

import typer

from workers.cli.common import err, fail, settings_or_exit
from workers.settings import Settings


def flower(
    port: Annotated[int, typer.Option(min=1, max=65535, help="port Flower listens on")] = 5555,
    address: Annotated[str, typer.Option(help="address Flower binds (0.0.0.0: every interface)")] = "127.0.0.1",
    insecure_dev: Annotated[
        bool,
        typer.Option("--insecure-dev", help="start without credentials (a laptop only: anyone who reaches it can act)"),
    ] = False,
) -> None:
    """Start Flower for this app (`pip install 'hedgeops[flower]'`)."""
    settings = settings_or_exit()
    if not settings.distributed:
        raise fail("Flower watches a broker: set HEDGEOPS_BROKER_URL (embedded mode has no workers to show)")
    if importlib.util.find_spec("flower") is None:
        raise fail("Flower is not installed: pip install 'hedgeops[flower]'")
    env = flower_environment(settings, insecure_dev)
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "workers.celery_app",
        "flower",
        f"--address={address}",
        f"--port={port}",
    ]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, argv, env)


def flower_environment(settings: Settings, insecure_dev: bool) -> dict[str, str]:
    """This process's environment with Flower's basic auth (or, --insecure-dev, without any)."""
    from workers.celery_app import FLOWER_INSECURE_DEV

    env = {k: v for k, v in os.environ.items() if k not in ("FLOWER_BASIC_AUTH", FLOWER_INSECURE_DEV)}
    user = settings.flower_user or ""
    password = settings.flower_password.get_secret_value() if settings.flower_password else ""
    if user and password:
        if ":" in user:
            raise fail("HEDGEOPS_FLOWER_USER may not contain ':'")
        env["FLOWER_BASIC_AUTH"] = f"{user}:{password}"
        return env
    if not insecure_dev:
        raise fail(
            "refusing to start Flower without credentials: set HEDGEOPS_FLOWER_USER and "
            "HEDGEOPS_FLOWER_PASSWORD (or pass --insecure-dev on a laptop)"
        )
    err.print(
        "hedgeops: Flower without authentication (--insecure-dev): anyone who reaches it can act",
        markup=False,
        highlight=False,
    )
    return {**env, FLOWER_INSECURE_DEV: "1"}  # the app refuses an open Flower not asked for so
