"""Helpers the benchmarks share: throwaway PostgreSQL databases, Celery worker processes
and the CPU and memory figures of processes read from /proc.

Not a benchmark itself; the scripts beside it import it (`from benchkit import ...`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from db import migrate
from db.engine import dispose_all, engine_for

ROOT = Path(__file__).resolve().parents[1]
CELERY = Path(sys.executable).with_name("celery")
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

# run_all's gate: where a benchmark appends its headline figures, and whether its target is judged.
HEADLINES_ENV = "BENCH_HEADLINES_FILE"
JUDGE_ENV = "BENCH_JUDGE_TARGETS"


# -- headline figures and targets ----------------------------------------------------------------


def headline(name: str, value: float) -> None:
    """One headline figure of this benchmark, lower is better: a ratio to a reference measured in
    the same run (or, where a benchmark has none, a time). Printed as `headline NAME = VALUE`, and
    appended as a JSON line to the file named by BENCH_HEADLINES_FILE when run_all sets it;
    run_all compares it with the figure recorded in benchmarks/recorded.json."""
    print(f"headline {name} = {value:.3f}")
    path = os.environ.get(HEADLINES_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps({"name": name, "value": value}) + "\n")


def judged(target: str, met: bool) -> bool:
    """A target's verdict: printed and returned, or, when run_all runs a size too small for the
    target to mean anything (BENCH_JUDGE_TARGETS=0), printed as not judged and returned as met."""
    if os.environ.get(JUDGE_ENV) == "0":
        print(f"target {target}: not judged at this size ({'met' if met else 'not met'} here)")
        return True
    print(f"target {target}: {'met' if met else 'NOT met'}")
    return met


#: How many times a cheap reference is measured; its least is the figure (best_of).
REFERENCE_REPEATS = 3


def best_of(measure: Callable[[], float], times: int = REFERENCE_REPEATS) -> float:
    """The least of `times` runs of `measure` (each returns its own seconds). At run_all --quick
    sizes a reference takes a few milliseconds, and one measurement moved by 2x to 7x between two
    runs on a loaded machine (benchmarks/README.md, the gate): the least of three is steadier, and
    is what a floor means."""
    return min(measure() for _ in range(times))


def floor_of(measure: Callable[[], float]) -> float:
    """A reference that `measure` times (its seconds): once when it takes a second or more
    (the full sizes: steady enough), the least of three (best_of) when it takes less (the
    quick sizes, where one measurement moves with the machine's load)."""
    first = measure()
    return first if first >= 1.0 else min(first, best_of(measure, REFERENCE_REPEATS - 1))


def best_insert(engine: Any, table: str, statement: Any, rows: list[dict[str, Any]]) -> float:
    """Seconds of one executemany of `statement` over `rows` into the emptied `table`, the
    least of three (best_of): the references of effectiveness.py and postings.py."""

    def once() -> float:
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {table}"))
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(statement, rows)
        return time.perf_counter() - started

    return best_of(once)


# -- throwaway databases -----------------------------------------------------------------------


def admin_execute(admin_url: str, sql: str) -> None:
    """Run one statement outside a transaction (CREATE and DROP DATABASE need that)."""
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


def throwaway_database(
    admin_url: str, prefix: str = "hedgeops_bench_", digits: int = 10, template: str | None = None
) -> str:
    """Create a database named `prefix` + random hex digits, empty or a copy of `template`; its URL."""
    name = f"{prefix}{uuid.uuid4().hex[:digits]}"
    admin_execute(admin_url, f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return database_url(admin_url, name)


def database_url(admin_url: str, name: str) -> str:
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def schema_digest() -> str:
    """A digest of db/ (the migrations and the modules they import): a migrated template
    stands for one version of it."""
    digest = hashlib.sha256()
    folder = ROOT / "db"
    for path in sorted(folder.rglob("*.py")):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


#: Migrated databases are copied from `TEMPLATE_PREFIX` + schema_digest(), made once per server.
TEMPLATE_PREFIX = "hedgeops_bench_template_"
#: The advisory lock held while a template is made (benchmarks of other checkouts may run at once).
TEMPLATE_LOCK = 0x6865_6467_6570


def migrated_template(admin_url: str) -> str:
    """The name of a database migrated to head for this checkout's db/, made if missing (under
    an advisory lock, migrated under another name and renamed, so no one copies it half made).
    Kept between runs: it is what scratch_database copies (CREATE DATABASE .. TEMPLATE), and
    spares every benchmark the migrations (about a second each)."""
    name = TEMPLATE_PREFIX + schema_digest()
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": TEMPLATE_LOCK})
            try:
                if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}) is None:
                    making = f"{name}_{uuid.uuid4().hex[:6]}"
                    conn.execute(text(f'CREATE DATABASE "{making}"'))
                    try:
                        migrate.upgrade(database_url(admin_url, making))
                        dispose_all()
                        conn.execute(text(f'ALTER DATABASE "{making}" RENAME TO "{name}"'))
                    except BaseException:
                        dispose_all()
                        conn.execute(text(f'DROP DATABASE IF EXISTS "{making}" WITH (FORCE)'))
                        raise
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": TEMPLATE_LOCK})
    finally:
        engine.dispose()
    return name


def drop_database(admin_url: str, url: str) -> None:
    """Close this process's pooled connections, then drop the database of `url`."""
    dispose_all()
    admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


@contextlib.contextmanager
def scratch_database(
    admin_url: str, keep: bool, purpose: str | None = "", prefix: str = "hedgeops_bench_", digits: int = 10
) -> Iterator[str]:
    """A new, migrated database on the server of `admin_url` (a copy of migrated_template), dropped afterwards. With
    `keep` it stays and "kept [purpose ]database NAME" is printed (`purpose` None: nothing)."""
    url = throwaway_database(admin_url, prefix, digits, migrated_template(admin_url))
    try:
        yield url
    finally:
        if not keep:
            drop_database(admin_url, url)
        else:
            dispose_all()
            if purpose is not None:
                print(f"kept {purpose + ' ' if purpose else ''}database {make_url(url).database}")


def backend_pids(url: str) -> list[int]:
    """The PostgreSQL backends serving the database of `url`, but the one asking."""
    query = text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
    with engine_for(url).connect() as conn:
        return list(conn.scalars(query))


# -- worker processes --------------------------------------------------------------------------


def worker_env(settings: Mapping[str, str], **extra: str) -> dict[str, str]:
    """This environment without any HEDGEOPS_* of its own, plus `settings` as HEDGEOPS_*
    variables and `extra` as they are."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEDGEOPS_")}
    env.update({f"HEDGEOPS_{k.upper()}": v for k, v in settings.items()}, **extra)
    return env


def start_celery_worker(
    queues: str, concurrency: int, node: str, env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    """`celery worker -Q queues -c concurrency` in a process group of its own (so it can be
    stopped with its pool), its output appended to `log`."""
    command = [
        str(CELERY),
        "-A",
        "workers.celery_app",
        "worker",
        "-Q",
        queues,
        "-c",
        str(concurrency),
        "-n",
        node,
        "--loglevel",
        "WARNING",
        "--without-gossip",
        "--without-mingle",
    ]
    with log.open("ab") as out:
        return subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop_worker(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the worker's process group (warm shutdown), SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


# -- process figures (/proc) -------------------------------------------------------------------


def process_tree(pids: Iterable[int]) -> list[int]:
    """Each process and its children (a worker's main process and its pool processes)."""
    found: list[int] = []
    for pid in pids:
        children = Path(f"/proc/{pid}/task/{pid}/children")
        found += [pid] + ([int(p) for p in children.read_text().split()] if children.exists() else [])
    return found


def cpu_seconds(pids: Iterable[int]) -> dict[int, float]:
    """User + system CPU seconds of each process so far (fields 14 and 15 of /proc/pid/stat)."""
    found: dict[int, float] = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            found[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return found


def cpu_spent(before: Mapping[int, float], after: Mapping[int, float]) -> float:
    """CPU seconds between two readings; a process that appeared in between counts from 0."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def machine_busy_seconds() -> float:
    """CPU seconds all cores of the machine have been busy since boot (/proc/stat)."""
    user, nice, system, _idle, _iowait, *rest = (int(v) for v in Path("/proc/stat").read_text().split()[1:9])
    return (user + nice + system + sum(rest)) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pids: Iterable[int]) -> list[float]:
    """VmHWM (peak resident set) of each process still alive, MiB, in the order given."""
    found: list[float] = []
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    found.append(int(line.split()[1]) / 1024)
    return found
