"""One engine per process, made after fork: an engine inherited from a parent process is
never used (its pooled connections belong to the parent)."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

_engines: dict[str, tuple[int, Engine]] = {}


def _sqlite_setup(engine: Engine) -> None:
    """WAL, foreign keys, a busy timeout, and BEGIN IMMEDIATE so that two processes
    writing one file queue up instead of failing on a read-to-write upgrade."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def database_fingerprint(url: str) -> str:
    """A short name of the database a URL points at, without its secrets: every task
    message carries its sender's, so a worker of another database refuses it."""
    parsed = make_url(url).set(password=None)
    named = parsed.render_as_string(hide_password=False).replace("postgresql+psycopg://", "postgresql://")
    return hashlib.sha256(named.encode()).hexdigest()[:16]


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        _sqlite_setup(engine)
        return engine
    # A host that does not answer is an error in seconds, not a hang.
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, connect_args={"connect_timeout": 10})


def engine_for(url: str) -> Engine:
    """The engine of this process for `url`, made on first use in this process."""
    pid = os.getpid()
    cached = _engines.get(url)
    if cached is not None and cached[0] == pid:
        return cached[1]
    if cached is not None:
        # Inherited through fork: leave the parent's connections alone.
        cached[1].dispose(close=False)
    engine = make_engine(url)
    _engines[url] = (pid, engine)
    return engine


def session_factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(engine_for(url), expire_on_commit=False)


def dispose_all() -> None:
    for _pid, engine in _engines.values():
        engine.dispose()
    _engines.clear()


@contextlib.contextmanager
def page_cache(session: Session, kib: int) -> Iterator[None]:
    """SQLite: `kib` of page cache on the session's connection for the block, then as it was."""
    conn = session.connection()
    if conn.dialect.name != "sqlite":
        yield
        return
    before = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size=-{int(kib)}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size={int(before or -2000)}")
