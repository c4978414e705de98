"""One engine per process, made after fork; mypy --strict on core, db, tasks and workers."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

from sqlalchemy import text

from db.engine import engine_for, page_cache, session_factory

ROOT = Path(__file__).resolve().parents[2]


def test_a_forked_child_makes_its_own_engine(db_url: str) -> None:
    parent = engine_for(db_url)
    assert engine_for(db_url) is parent
    with parent.connect() as conn:
        conn.execute(text("SELECT 1"))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a new engine that works; the parent's pool is left alone
        os.close(read)
        child = engine_for(db_url)
        with child.connect() as conn:
            ok = conn.execute(text("SELECT 1")).scalar() == 1
        os.write(write, b"new" if (child is not parent and ok) else b"same")
        os._exit(0)
    os.close(write)
    answer = os.read(read, 16)
    os.waitpid(pid, 0)
    assert answer == b"new"
    with engine_for(db_url).connect() as conn:  # the parent's engine still works after the fork
        assert conn.execute(text("SELECT 1")).scalar() == 1


def test_mypy_strict_passes_on_core_db_tasks_and_workers() -> None:
    """The four packages, every module of them (workers: the app, settings, CLI, adapters)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert config["strict"] is True
    assert sorted(config["packages"]) == ["core", "db", "tasks", "workers"]
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental"], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-3000:]


def test_a_price_load_s_page_cache_is_put_back(sqlite_url: str) -> None:
    # PRAGMA cache_size: negative is KiB. The load's 32 MiB holds only inside the block.
    with session_factory(sqlite_url)() as session:
        size = session.connection().exec_driver_sql("PRAGMA cache_size").scalar()
        with page_cache(session, 32_768):
            assert session.connection().exec_driver_sql("PRAGMA cache_size").scalar() == -32_768
        assert session.connection().exec_driver_sql("PRAGMA cache_size").scalar() == size
