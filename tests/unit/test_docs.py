"""The README stays true to the code: its configuration table is the settings, and its
Quickstart has exactly the two commands."""

from __future__ import annotations

import re
from pathlib import Path

from workers.settings import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_the_configuration_table_lists_every_setting_and_no_other() -> None:
    section = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `HEDGEOPS_([A-Z0-9_]+)` \|", section, flags=re.MULTILINE))
    assert documented == {name.upper() for name in Settings.model_fields}


def test_every_setting_has_a_description() -> None:
    assert [n for n, f in Settings.model_fields.items() if not f.description] == []


def test_the_quickstart_has_exactly_two_commands() -> None:
    section = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)
    assert [b.strip() for b in blocks] == [
        "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/hedgeops demo",
        "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/pytest -n 2 --dist worksteal",
    ]


def test_the_grafana_dashboard_shows_only_metrics_the_code_exports_and_all_of_them() -> None:
    import json

    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics import MetricWrapperBase

    from workers import queue_depth
    from workers.metrics import PrometheusGuardObserver, PrometheusRunObserver, PrometheusSyncObserver

    registry = CollectorRegistry()
    observers = [
        observer(registry) for observer in (PrometheusRunObserver, PrometheusSyncObserver, PrometheusGuardObserver)
    ]
    registry.register(queue_depth.QueueDepthCollector(["valuation"], lambda queues: {q: 0 for q in queues}))
    exported = {m.name for m in registry.collect()}
    metrics = [m for o in observers for m in vars(o).values() if isinstance(m, MetricWrapperBase)]
    labels = {label for m in metrics for label in m._labelnames} | {"queue"}
    dashboard = json.loads((Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    tokens = set(re.findall(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b", exprs)) - {"histogram_quantile", *labels}
    used = {t if t in exported else re.sub(r"_(bucket|total|count|sum)$", "", t) for t in tokens}
    assert used == exported
    # Grouped by labels we export: `job` is Prometheus' scrape job, ours is `hedgeops_job`.
    grouped = {g.strip() for by in re.findall(r"by \(([^)]*)\)", exprs) for g in by.split(",")} - {"le"}
    assert "job" not in labels
    assert grouped <= labels, grouped - labels


def test_the_demo_chart_of_accounts_file_is_the_default_chart() -> None:
    import json

    from core.hedging.accounts import DEFAULT_CHART, ChartOfAccounts

    shipped = Path(__file__).parents[2] / "workers" / "sample_data" / "chart_of_accounts.json"
    assert ChartOfAccounts.from_mapping(json.loads(shipped.read_text(encoding="utf-8"))) == DEFAULT_CHART


def test_the_beat_command_makes_the_folder_of_its_schedule_first() -> None:
    """On a fresh host the schedule's folder does not exist and beat does not create it."""
    block = README.split("<!-- beat-command -->\n```bash\n", 1)[1].split("```", 1)[0]
    lines = [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]
    [beat] = [i for i, line in enumerate(lines) if " beat " in line]
    schedule = re.search(r"--schedule (\S+)", lines[beat])
    assert schedule is not None
    folder = str(Path(schedule[1]).parent)
    assert any(re.search(rf"(mkdir -p|install -d)\b.* {re.escape(folder)}$", line) for line in lines[:beat]), lines


def test_the_tasks_table_names_each_task_s_arguments() -> None:
    import importlib
    import inspect

    from tasks import names

    section = README.split("## Tasks and queues", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(hedgeops\.[a-z_.]+)` \| [^|]+ \| (.+) \|$", section, flags=re.MULTILINE)
    assert rows
    tasks = {}
    for module in names.TASK_MODULES:
        for value in vars(importlib.import_module(module)).values():
            if getattr(value, "name", None) and hasattr(value, "run"):
                tasks[value.name] = value
    for name, arguments in rows:
        documented = set(re.findall(r"`([a-z_]+)`", arguments)) - {"manual", "beat", "backfill"}
        params = set(inspect.signature(tasks[name].run).parameters) - {"self"}
        assert documented == params, name


def test_the_mt5_retry_is_documented_as_it_is() -> None:
    from tasks.mt5.sync import SYNC_RETRY

    delays = ", ".join(str(SYNC_RETRY.backoff * 2**n) for n in range(SYNC_RETRY.max_retries))
    mt5 = (Path(__file__).resolve().parents[2] / "docs" / "mt5.md").read_text(encoding="utf-8")
    for text in (README, mt5):
        assert delays in text
        assert ("no jitter" in text) is not SYNC_RETRY.jitter
        assert ("full jitter" in text) is SYNC_RETRY.jitter
