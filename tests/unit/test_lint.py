"""ruff keeps the tree formatted and linted (the rule set and why: pyproject.toml [tool.ruff])."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_the_tree_is_formatted() -> None:
    result = ruff("format", "--check", "--diff", ".")
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]


def test_the_tree_passes_the_lint_rules() -> None:
    result = ruff("check", "--output-format", "concise", ".")
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
