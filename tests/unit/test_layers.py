"""The layers import one way: workers -> tasks -> {core, db}, db -> core; core is pure.

Checked from the source text with `ast`, so an import inside a function counts as much
as one at the top of a module, and nothing is imported to find out.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ("core", "db", "tasks", "workers")

#: What each layer must never import (top-level package names).
FORBIDDEN: dict[str, frozenset[str]] = {
    "core": frozenset({"db", "tasks", "workers", "tests", "benchmarks"}),
    "db": frozenset({"tasks", "workers", "tests", "benchmarks"}),
    "tasks": frozenset({"workers", "tests", "benchmarks"}),
}
#: Core has no I/O, no clock, no logging, no Celery, no SQLAlchemy.
CORE_FORBIDDEN_LIBRARIES = frozenset(
    {
        "sqlalchemy",
        "alembic",
        "celery",
        "kombu",
        "redis",
        "psycopg",
        "psycopg2",
        "structlog",
        "logging",
        "requests",
        "httpx",
        "urllib",
        "socket",
        "subprocess",
        "os",
        "pathlib",
        "time",
        "MetaTrader5",
        "mt5linux",
    }
)
#: Calls that read the clock, use binary floats or do I/O.
CLOCK_ATTRIBUTES = frozenset({"now", "utcnow", "today"})
FORBIDDEN_BUILTINS = frozenset({"float", "open", "print", "input"})


@dataclass(frozen=True)
class Found:
    file: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.what}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the source, wherever it is."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.append((node.lineno, name))
        elif isinstance(node, ast.Call) and _called_name(node) in {"import_module", "__import__"}:
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return found


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def impure_calls(source: str) -> list[tuple[int, str]]:
    """(line, call) of every clock read, float() or I/O builtin in the source."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Attribute) and node.func.attr in CLOCK_ATTRIBUTES:
            found.append((node.lineno, f"{ast.unparse(node.func)}()"))
        elif isinstance(node.func, ast.Attribute) and ast.unparse(node.func) == "time.time":
            found.append((node.lineno, "time.time()"))
        elif isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_BUILTINS:
            found.append((node.lineno, f"{node.func.id}()"))
    return found


def python_files(layer: str) -> list[Path]:
    return sorted((ROOT / layer).rglob("*.py"))


def imports_of_layer(layer: str) -> list[tuple[Path, int, str]]:
    out = []
    for path in python_files(layer):
        for line, name in imported_modules(
            path.read_text(encoding="utf-8"), module_name(path), is_package=path.name == "__init__.py"
        ):
            out.append((path, line, name))
    return out


class TestTheScanner:
    """The checks below are only as good as the scanner: it must see every form of import."""

    SOURCE = textwrap.dedent("""
        import json
        import db.models, workers.cli as cli
        from tasks import base
        from . import sibling
        from .. import parent_thing
        from ..other import thing

        def late():
            from workers.settings import Settings
            import importlib
            importlib.import_module("db.engine")
            return datetime.now(), date.today(), float("1.5"), dt.datetime.utcnow(), time.time()
    """)

    def test_sees_top_level_function_level_relative_and_dynamic_imports(self) -> None:
        names = [name for _, name in imported_modules(self.SOURCE, "core.sub.mod")]

        assert names == [
            "json",
            "db.models",
            "workers.cli",
            "tasks",
            "core.sub",
            "core",
            "core.other",
            "workers.settings",
            "importlib",
            "db.engine",
        ]

    def test_relative_imports_of_a_package_init_start_at_the_package(self) -> None:
        names = [name for _, name in imported_modules("from . import x\nfrom .y import z\n", "core", True)]

        assert names == ["core", "core.y"]

    def test_sees_clock_reads_and_floats(self) -> None:
        calls = [call for _, call in impure_calls(self.SOURCE)]

        assert calls == ["datetime.now()", "date.today()", "float()", "dt.datetime.utcnow()", "time.time()"]


class TestImportRule:
    @pytest.mark.parametrize("layer", PROJECT)
    def test_the_layer_has_source_to_check(self, layer: str) -> None:
        assert python_files(layer), f"no Python files under {layer}/: the rule would pass unchecked"

    @pytest.mark.parametrize("layer", sorted(FORBIDDEN))
    def test_a_layer_imports_no_layer_above_it(self, layer: str) -> None:
        wrong = [
            Found(str(path.relative_to(ROOT)), line, f"imports {name}")
            for path, line, name in imports_of_layer(layer)
            if name.split(".")[0] in FORBIDDEN[layer]
        ]

        assert not wrong, "\n".join(map(str, wrong))

    def test_core_imports_no_infrastructure(self) -> None:
        wrong = [
            Found(str(path.relative_to(ROOT)), line, f"imports {name}")
            for path, line, name in imports_of_layer("core")
            if name.split(".")[0] in CORE_FORBIDDEN_LIBRARIES
        ]

        assert not wrong, "\n".join(map(str, wrong))


class TestCoreIsPure:
    def test_core_never_reads_the_clock_uses_float_or_does_io(self) -> None:
        wrong = [
            Found(str(path.relative_to(ROOT)), line, call)
            for path in python_files("core")
            for line, call in impure_calls(path.read_text(encoding="utf-8"))
        ]

        assert not wrong, "\n".join(map(str, wrong))


class TestImportLinter:
    def test_the_layers_contract_in_pyproject_is_kept(self) -> None:
        import importlinter  # noqa: F401 - a test dependency (pyproject): missing is a failure, not a skip

        # In a child process: lint_imports() reconfigures logging and edits sys.path, which
        # would leak into the other tests of this session. No cache: write nothing in the repo.
        script = (
            "import sys\n"
            "from importlinter.cli import lint_imports\n"
            "sys.exit(lint_imports(no_cache=True, no_logo=True))\n"
        )

        result = subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )

        assert result.returncode == 0, result.stdout + result.stderr
        assert " 0 broken" in result.stdout
