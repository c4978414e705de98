"""Dependencies are passed, not looked up: a bundle of ports (tasks.ports, tasks.hedging.ports,
tasks.mt5.ports) is looked up only at a task's entry, and handed down from there.

An entry is a function that no other function of tasks/ calls: a Celery task, a task's
failure hook, a resender the sweep finds by job name, a public function the CLI calls.
Checked from the source with `ast`: calls are resolved through each module's imports, so a
namesake in db/ (db.mt5.accounts.list_accounts) is not taken for the task's function."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOOKUPS = frozenset({"ports", "hedging_ports", "mt5_ports"})

Function = tuple[str, str]  # (module, name)


def module_of(root: Path, path: Path) -> str:
    return ".".join(path.relative_to(root).with_suffix("").parts)


def imported(tree: ast.Module) -> dict[str, str]:
    """Name bound by an import -> what it names: `tasks.loading.load_prices`, `tasks.runs`."""
    names = {}
    for node in (n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module):
        for alias in node.names:
            names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def calls(function: ast.FunctionDef, module: str, names: dict[str, str]) -> set[Function]:
    """The functions of tasks/ (and the lookups) a function calls: `f(...)` defined here or
    imported, or `runs.f(...)` of an imported module of tasks/."""
    found = set()
    for call in (n for n in ast.walk(function) if isinstance(n, ast.Call)):
        if isinstance(call.func, ast.Name):
            target = names.get(call.func.id, f"{module}.{call.func.id}")
        elif isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name):
            target = f"{names.get(call.func.value.id, call.func.value.id)}.{call.func.attr}"
        else:
            continue
        owner, _, name = target.rpartition(".")
        if owner.startswith("tasks"):
            found.add((owner, name))
    return found


def lookups_below_entries(root: Path) -> list[str]:
    called: dict[Function, set[Function]] = {}
    for path in sorted((root / "tasks").rglob("*.py")):
        module, tree = module_of(root, path), ast.parse(path.read_text(encoding="utf-8"))
        names = imported(tree)
        for f in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
            called[(module, f.name)] = calls(f, module, names)
    looking = {f for f, targets in called.items() if any(name in LOOKUPS for _, name in targets)}
    return sorted(
        f"{module}.{name} looks a bundle up and is called by {caller[0]}.{caller[1]}"
        for caller, targets in called.items()
        for module, name in targets & looking
    )


def test_no_bundle_is_looked_up_below_a_task_entry() -> None:
    assert lookups_below_entries(ROOT) == []


def test_the_check_finds_a_lookup_below_an_entry(tmp_path: Path) -> None:
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "job.py").write_text(
        "from tasks.ports import ports\n\n\ndef entry():\n    return helper()\n\n\n"
        "def helper():\n    return ports().clock()\n",
        encoding="utf-8",
    )
    assert lookups_below_entries(tmp_path) == ["tasks.job.helper looks a bundle up and is called by tasks.job.entry"]
