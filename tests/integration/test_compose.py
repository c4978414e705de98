"""compose.yaml and the Dockerfile, checked as files: the services and the order they start
in, the shared environment against the real Settings, and no secret written into the file.

There is no Docker engine where the tests run; this is what can be known without one.
`${...}` placeholders are substituted the way Compose does (`interpolate`), with sample values.
"""

from __future__ import annotations

import os
import re
import shlex
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from workers.celery_app import QUEUES, celery_config
from workers.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "compose.yaml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"

APP_SERVICES = ("migrate", "worker", "beat", "flower")
REQUIRED_SERVICES = ("redis", "postgres", *APP_SERVICES)
SAMPLE_ENV = {"POSTGRES_PASSWORD": "pg-sample-pw", "FLOWER_USER": "ops", "FLOWER_PASSWORD": "flower-sample-pw"}


# --- Compose's variable substitution -----------------------------------------------------


class MissingVariable(Exception):
    """`${VAR:?message}` with VAR unset: Compose refuses to start."""


_PLACEHOLDER = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))")
_BRACED = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<colon>:?)(?P<op>[-?])(?P<arg>.*))?", re.DOTALL)


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """`$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`, `${VAR?message}`
    and `$$`, as Compose reads them (with a colon, empty counts as unset)."""

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        if match["named"]:
            return env.get(match["named"], "")
        parts = _BRACED.fullmatch(match["braced"])
        if parts is None:
            raise ValueError(f"unsupported substitution ${{{match['braced']}}}")
        value = env.get(parts["name"])
        unset = value is None or (parts["colon"] == ":" and value == "")
        if parts["op"] == "-" and unset:
            return str(parts["arg"])
        if parts["op"] == "?" and unset:
            raise MissingVariable(f"{parts['name']}: {parts['arg']}")
        return value or ""

    return _PLACEHOLDER.sub(substitute, text)


def interpolate_tree(node: Any, env: Mapping[str, str]) -> Any:
    """Substitute in every string value of the parsed file (keys are left alone, as in Compose)."""
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, dict):
        return {key: interpolate_tree(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate_tree(item, env) for item in node]
    return node


# --- reading the files -------------------------------------------------------------------


def load_compose(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    raw = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return raw if env is None else interpolate_tree(raw, env)


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    """The file as written: placeholders not substituted."""
    return load_compose()


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    """The file as Compose sees it with the sample environment."""
    return load_compose(SAMPLE_ENV)


def service(compose: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(compose["services"][name])


def argv(svc: dict[str, Any]) -> list[str]:
    command = svc.get("command")
    assert command, "service has no command"
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def option(args: list[str], *names: str) -> str | None:
    """The value of `-Q x`, `--queues x` or `--queues=x`."""
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if name.startswith("--") and arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def environment(svc: dict[str, Any]) -> dict[str, str]:
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def depends_on(svc: dict[str, Any]) -> dict[str, str]:
    """{service: condition}; the list form means service_started."""
    deps = svc.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: "service_started" for name in deps}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def named_volume_mounts(compose: dict[str, Any], svc: dict[str, Any]) -> dict[str, str]:
    """{target path: volume} for the service's mounts of top-level named volumes."""
    declared = set((compose.get("volumes") or {}).keys())
    mounts = {}
    for entry in svc.get("volumes") or []:
        if isinstance(entry, dict):
            source, target = entry.get("source"), entry.get("target")
        else:
            source, _, rest = str(entry).partition(":")
            target = rest.split(":")[0]
        if source in declared:
            mounts[str(target)] = str(source)
    return mounts


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    logical, current = [], ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        current += " " + stripped.removesuffix("\\").strip()
        if not stripped.endswith("\\"):
            logical.append(current.strip())
            current = ""
    instructions = []
    for entry in logical:
        keyword, _, rest = entry.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    return instructions


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


# --- the tests ---------------------------------------------------------------------------


class TestInterpolation:
    """The substitution helper itself: the other checks are only as good as it is."""

    @pytest.mark.parametrize(
        ("text", "env", "expected"),
        [
            ("${A}", {"A": "x"}, "x"),
            ("${A}", {}, ""),
            ("$A/b", {"A": "x"}, "x/b"),
            ("${A:-dflt}", {}, "dflt"),
            ("${A:-dflt}", {"A": ""}, "dflt"),
            ("${A-dflt}", {"A": ""}, ""),
            ("${A:-dflt}", {"A": "set"}, "set"),
            ("${A:?need A}", {"A": "set"}, "set"),
            ("u:${A:-p}@h", {}, "u:p@h"),
            ("$${A}", {"A": "x"}, "${A}"),
        ],
    )
    def test_substitutes(self, text: str, env: dict[str, str], expected: str) -> None:
        assert interpolate(text, env) == expected

    @pytest.mark.parametrize("env", [{}, {"A": ""}])
    def test_required_variable_unset_is_refused_with_its_message(self, env: dict[str, str]) -> None:
        with pytest.raises(MissingVariable, match="A: need A"):
            interpolate("${A:?need A}", env)


class TestServices:
    @pytest.mark.parametrize("name", REQUIRED_SERVICES)
    def test_service_exists(self, raw: dict[str, Any], name: str) -> None:
        assert name in raw["services"]

    @pytest.mark.parametrize(("name", "image"), [("redis", "redis:7"), ("postgres", "postgres:15")])
    def test_infrastructure_image_is_pinned_to_its_major_version(
        self, raw: dict[str, Any], name: str, image: str
    ) -> None:
        assert service(raw, name)["image"] == image

    @pytest.mark.parametrize("name", APP_SERVICES)
    def test_app_service_builds_from_the_repo_dockerfile(self, raw: dict[str, Any], name: str) -> None:
        build = service(raw, name).get("build")
        assert build is not None, f"{name} has no build"
        spec = {"context": build} if isinstance(build, str) else build
        context = (COMPOSE_FILE.parent / spec.get("context", ".")).resolve()
        assert context == REPO
        assert (context / spec.get("dockerfile", "Dockerfile")).resolve() == DOCKERFILE

    def test_every_dependency_is_a_defined_service(self, raw: dict[str, Any]) -> None:
        undefined = {
            (name, dep)
            for name, svc in raw["services"].items()
            for dep in depends_on(svc)
            if dep not in raw["services"]
        }
        assert not undefined


class TestHealthchecks:
    @pytest.mark.parametrize(("name", "probe"), [("redis", ["redis-cli", "ping"]), ("postgres", ["pg_isready"])])
    def test_infrastructure_has_a_healthcheck(self, raw: dict[str, Any], name: str, probe: list[str]) -> None:
        test = service(raw, name).get("healthcheck", {}).get("test")
        assert test, f"{name} has no healthcheck"
        words = shlex.split(test) if isinstance(test, str) else list(test)
        assert all(word in words for word in probe), words

    def test_waiting_for_healthy_needs_a_healthcheck(self, raw: dict[str, Any]) -> None:
        """`service_healthy` on a service without a healthcheck would never start."""
        unhealthy = {
            dep
            for svc in raw["services"].values()
            for dep, condition in depends_on(svc).items()
            if condition == "service_healthy" and "healthcheck" not in raw["services"][dep]
        }
        assert not unhealthy


class TestStartOrder:
    def test_migrate_upgrades_the_schema_once(self, raw: dict[str, Any]) -> None:
        migrate = service(raw, "migrate")
        assert argv(migrate) == ["hedgeops", "db", "upgrade"]
        assert migrate.get("restart") == "no"

    def test_migrate_waits_for_a_healthy_postgres(self, raw: dict[str, Any]) -> None:
        assert depends_on(service(raw, "migrate")).get("postgres") == "service_healthy"

    @pytest.mark.parametrize("name", ["worker", "beat"])
    def test_runs_only_after_the_migration_succeeded(self, raw: dict[str, Any], name: str) -> None:
        deps = depends_on(service(raw, name))
        assert deps.get("migrate") == "service_completed_successfully"
        assert deps.get("redis") == "service_healthy"


class TestCeleryProcesses:
    @pytest.mark.parametrize(("name", "subcommand"), [("worker", "worker"), ("beat", "beat")])
    def test_runs_the_project_app(self, raw: dict[str, Any], name: str, subcommand: str) -> None:
        args = argv(service(raw, name))
        assert args[0] == "celery"
        assert option(args, "-A", "--app") == "workers.celery_app"
        assert subcommand in args

    def test_flower_is_started_locked_by_hedgeops(self, raw: dict[str, Any]) -> None:
        args = argv(service(raw, "flower"))
        assert args[:2] == ["hedgeops", "flower"] and "--insecure-dev" not in args

    @pytest.mark.parametrize("name", ["worker", "worker-mt5-demo", "beat", "flower"])
    def test_has_a_healthcheck(self, raw: dict[str, Any], name: str) -> None:
        test = " ".join(service(raw, name).get("healthcheck", {}).get("test", []))
        assert test, f"{name} has no healthcheck"
        if name.startswith("worker"):
            # The consumer watchdog's file, not `inspect ping` (a frozen consumer answers it).
            watchdog = environment(service(raw, name)).get("HEDGEOPS_WATCHDOG_FILE")
            assert watchdog and f"find {watchdog} -mmin" in test and "inspect ping" not in test

    def test_workers_serve_metrics_on_a_port_of_their_own(self, raw: dict[str, Any]) -> None:
        for name in ("worker", "worker-mt5-demo"):
            svc = service(raw, name)
            port = environment(svc).get("HEDGEOPS_METRICS_PORT")
            assert port and port in [str(p) for p in svc.get("expose", [])], name
            assert environment(svc).get("PROMETHEUS_MULTIPROC_DIR") in svc.get("tmpfs", []), name

    def test_worker_consumes_every_queue_of_the_app(self, raw: dict[str, Any]) -> None:
        queues = option(argv(service(raw, "worker")), "-Q", "--queues")
        assert queues is not None, "worker has no -Q"
        assert set(queues.split(",")) == {"prices", "valuation"} == set(QUEUES)

    def test_every_routed_queue_is_consumed(self, raw: dict[str, Any]) -> None:
        consumed = set(str(option(argv(service(raw, "worker")), "-Q", "--queues")).split(","))
        config = celery_config(Settings(_env_file=None))  # type: ignore[call-arg]
        import importlib

        from tasks import names
        from tasks.base import ROUTES

        for module in names.TASK_MODULES:  # their decorators fill ROUTES
            importlib.import_module(module)
        routed = {queue for queue in ROUTES.values() if isinstance(queue, str)}  # MT5 queues: by terminal
        assert {"prices", "valuation"} <= routed
        scheduled = {entry["options"]["queue"] for entry in config["beat_schedule"].values()}
        scheduled = {q for q in scheduled if not q.startswith("mt5.")}  # consumed by the terminals' own workers
        assert routed | scheduled | {config["task_default_queue"]} <= consumed

    def test_each_mt5_terminal_of_beat_has_one_single_process_worker(self, resolved: dict[str, Any]) -> None:
        settings = Settings(
            _env_file=None,
            **{  # type: ignore[arg-type]
                k.removeprefix("HEDGEOPS_").lower(): v
                for k, v in environment(service(resolved, "beat")).items()
                if k == "HEDGEOPS_MT5_TERMINALS"
            },
        )
        terminals = settings.mt5_terminal_names
        assert terminals, "beat cycles no MT5 terminal"
        for terminal in terminals:
            workers = [
                svc
                for svc in resolved["services"].values()
                if "command" in svc
                and "worker" in argv(svc)
                and option(argv(svc), "-Q", "--queues") == f"mt5.{terminal}"
            ]
            assert len(workers) == 1, f"terminal {terminal}: {len(workers)} workers on mt5.{terminal}"
            assert option(argv(workers[0]), "-c", "--concurrency") == "1"

    def test_beat_keeps_its_schedule_on_a_volume_or_tmp(self, raw: dict[str, Any]) -> None:
        beat = service(raw, "beat")
        schedule = option(argv(beat), "-s", "--schedule")
        assert schedule is not None, "beat has no --schedule: it would write into the image's workdir"
        mounts = named_volume_mounts(raw, beat)
        assert schedule.startswith("/tmp/") or any(schedule.startswith(target.rstrip("/") + "/") for target in mounts)


class TestFlowerAuth:
    def _auth(self, compose: dict[str, Any]) -> tuple[str, str]:
        env = environment(service(compose, "flower"))
        return env.get("HEDGEOPS_FLOWER_USER", ""), env.get("HEDGEOPS_FLOWER_PASSWORD", "")

    def test_publishes_port_5555_on_the_loopback_only(self, raw: dict[str, Any]) -> None:
        ports = [str(p) for p in service(raw, "flower").get("ports", [])]
        assert ports == ["127.0.0.1:5555:5555"], ports

    def test_credentials_are_variables_not_literals(self, raw: dict[str, Any]) -> None:
        assert self._auth(raw) == ("${FLOWER_USER:-}", "${FLOWER_PASSWORD:-}")

    def test_credentials_come_from_the_environment(self, resolved: dict[str, Any]) -> None:
        assert self._auth(resolved) == (SAMPLE_ENV["FLOWER_USER"], SAMPLE_ENV["FLOWER_PASSWORD"])

    @pytest.mark.parametrize("unset", ["FLOWER_USER", "FLOWER_PASSWORD"])
    def test_unset_credentials_break_no_compose_command_and_flower_refuses_them(
        self, unset: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from typer.testing import CliRunner

        from workers.cli import app

        resolved = load_compose({k: v for k, v in SAMPLE_ENV.items() if k != unset})  # no MissingVariable
        for name, value in environment(service(resolved, "flower")).items():
            monkeypatch.setenv(name, value)
        result = CliRunner().invoke(app, ["flower"])
        assert result.exit_code == 2 and "refusing to start Flower without credentials" in result.stderr


class TestSharedEnvironment:
    def test_every_app_service_gets_the_shared_environment(self, raw: dict[str, Any]) -> None:
        shared = raw.get("x-hedgeops-env")
        assert shared, "no x-hedgeops-env anchor"
        for name in APP_SERVICES:
            env = environment(service(raw, name))
            assert {k: env.get(k) for k in shared} == {k: str(v) for k, v in shared.items()}, name

    def test_every_hedgeops_variable_is_a_setting(self) -> None:
        used = set(re.findall(r"\bHEDGEOPS_[A-Z0-9_]+", COMPOSE_FILE.read_text(encoding="utf-8")))
        assert {
            "HEDGEOPS_DATABASE_URL",
            "HEDGEOPS_BROKER_URL",
            "HEDGEOPS_RESULT_BACKEND",
            "HEDGEOPS_PRICE_DROP_DIR",
        } <= used
        unknown = {name for name in used if name.removeprefix("HEDGEOPS_").lower() not in Settings.model_fields}
        assert not unknown, f"not settings of workers.settings.Settings: {sorted(unknown)}"

    def test_urls_point_at_the_compose_services(self, resolved: dict[str, Any]) -> None:
        env = resolved["x-hedgeops-env"]
        assert urlsplit(env["HEDGEOPS_BROKER_URL"])[:3] == ("redis", "redis:6379", "/0")
        assert urlsplit(env["HEDGEOPS_RESULT_BACKEND"])[:3] == ("redis", "redis:6379", "/1")
        database = urlsplit(env["HEDGEOPS_DATABASE_URL"])
        postgres = environment(service(resolved, "postgres"))
        assert database.scheme == "postgresql+psycopg"
        assert (database.hostname, database.port) == ("postgres", 5432)
        assert database.username == postgres["POSTGRES_USER"]
        assert database.path == "/" + postgres["POSTGRES_DB"]

    def test_database_password_is_the_postgres_password_from_the_environment(self, resolved: dict[str, Any]) -> None:
        database = urlsplit(resolved["x-hedgeops-env"]["HEDGEOPS_DATABASE_URL"])
        postgres = environment(service(resolved, "postgres"))
        assert database.password == postgres["POSTGRES_PASSWORD"] == SAMPLE_ENV["POSTGRES_PASSWORD"]

    def test_price_drop_folder_is_on_a_named_volume_of_the_worker(self, raw: dict[str, Any]) -> None:
        drop = raw["x-hedgeops-env"]["HEDGEOPS_PRICE_DROP_DIR"]
        assert drop == "/data/prices/incoming"
        mounts = named_volume_mounts(raw, service(raw, "worker"))
        assert any(drop == target or drop.startswith(target.rstrip("/") + "/") for target in mounts), mounts

    @pytest.mark.parametrize("name", APP_SERVICES)
    def test_environment_loads_into_settings(
        self, resolved: dict[str, Any], name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """What the container's process sees, read the way it reads it: from its environment."""
        monkeypatch.chdir(tmp_path)  # no stray .env file
        for key in [k for k in os.environ if k.startswith("HEDGEOPS_")]:
            monkeypatch.delenv(key)
        for key, value in environment(service(resolved, name)).items():
            monkeypatch.setenv(key, value)
        settings = load_settings()
        assert settings.distributed
        assert settings.database_url.startswith("postgresql+psycopg://hedgeops:")
        assert settings.broker_url == "redis://redis:6379/0"
        assert settings.result_backend == "redis://redis:6379/1"
        assert settings.price_drop_dir == Path("/data/prices/incoming")


class TestDockerfile:
    def test_final_stage_is_python_3_11_slim(self) -> None:
        keyword, args = final_stage()[0]
        assert keyword == "FROM"
        assert args.split()[0] == "python:3.11-slim"

    def test_installs_the_project_and_flower(self) -> None:
        installs = []
        for keyword, args in dockerfile_instructions():
            if keyword == "RUN" and (found := re.search(r"\bpip install\b(.*?)(?:&&|;|$)", args)):
                installs.append([w for w in shlex.split(found[1]) if not w.startswith("-")])
        assert any("." in words and any(w.startswith("flower") for w in words) for words in installs), installs

    def test_copies_everything_the_build_needs(self) -> None:
        project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
        packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
        copied = {
            Path(src).name
            for keyword, args in dockerfile_instructions()
            if keyword == "COPY" and not args.startswith("--from")
            for src in shlex.split(args)[:-1]
        }
        assert packages | {"pyproject.toml", project["project"]["readme"]} <= copied, copied

    def test_dockerignore_keeps_secrets_out_and_the_sources_in(self) -> None:
        ignored = {
            line.strip().strip("/")
            for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")
        }
        assert ".env" in ignored
        assert not ignored & {"pyproject.toml", "README.md", "core", "db", "tasks", "workers"}

    def test_runs_as_a_non_root_user(self) -> None:
        users = [args for keyword, args in final_stage() if keyword == "USER"]
        assert users, "no USER in the final stage: the container runs as root"
        assert users[-1].split(":")[0] not in ("root", "0")

    def test_default_command_prints_the_help(self) -> None:
        commands = [args for keyword, args in final_stage() if keyword == "CMD"]
        assert commands, "no CMD"
        assert "hedgeops" in commands[-1] and "--help" in commands[-1]


class TestBeatHealthcheck:
    """The healthcheck run as the container would run it (`sh -c`), on a folder of our own:
    fresh whatever file names the Python's dbm gives the schedule, stale after 10 minutes."""

    def check(self, raw: dict[str, Any], folder: Path) -> int:
        import subprocess

        test = service(raw, "beat")["healthcheck"]["test"]
        assert test[0] == "CMD-SHELL"
        schedule = option(argv(service(raw, "beat")), "-s", "--schedule")
        assert schedule is not None
        command = interpolate(test[1], {}).replace(str(Path(schedule).parent), str(folder))
        assert str(folder) in command, "the healthcheck does not look where beat writes"
        return subprocess.run(["sh", "-c", command], check=False, timeout=30).returncode

    @pytest.mark.parametrize(
        "files",
        [
            ["celerybeat-schedule"],  # gdbm, or Python 3.13's dbm.sqlite3
            ["celerybeat-schedule.db"],  # ndbm (Berkeley DB)
            ["celerybeat-schedule.bak", "celerybeat-schedule.dat", "celerybeat-schedule.dir"],  # dbm.dumb
        ],
        ids=["gdbm", "ndbm", "dumb"],
    )
    def test_fresh_then_stale(self, raw: dict[str, Any], tmp_path: Path, files: list[str]) -> None:
        assert self.check(raw, tmp_path) != 0  # no schedule yet: not healthy
        for name in files:
            (tmp_path / name).write_bytes(b"")
        assert self.check(raw, tmp_path) == 0
        old = (tmp_path / files[0]).stat().st_mtime - 11 * 60
        for name in files:
            os.utime(tmp_path / name, (old, old))
        assert self.check(raw, tmp_path) != 0
