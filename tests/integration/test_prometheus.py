"""Metrics that fit Prometheus (issue 20, point 7): the shipped alerting rules pass
`promtool check rules` and their unit tests (`promtool test rules`), the scrape example is a
valid configuration, the rules name only series we export, the gauges are one value per
node (never one per process), and the series the alerts take an increase of exist at 0."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry

from tests.services import missing

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "docs" / "prometheus"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    """`promtool ARGS` in docs/prometheus; missing promtool fails in CI, skips elsewhere
    (`.ci/run` installs Debian's `prometheus` package when it is missing)."""
    if shutil.which("promtool") is None:
        missing("promtool", "not on PATH: apt-get install prometheus")
    return subprocess.run(["promtool", *args], cwd=RULES, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize(
    "args",
    [("check", "rules", "alerts.yml"), ("test", "rules", "alerts_test.yml"), ("check", "config", "prometheus.yml")],
    ids=["check-rules", "test-rules", "check-config"],
)
def test_promtool_accepts(args: tuple[str, ...]) -> None:
    result = promtool(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_the_rule_tests_cover_every_alert() -> None:
    alerts = {r["alert"] for g in yaml.safe_load((RULES / "alerts.yml").read_text())["groups"] for r in g["rules"]}
    tests = yaml.safe_load((RULES / "alerts_test.yml").read_text())["tests"]
    firing = {a["alertname"] for t in tests for a in t["alert_rule_test"] if a["exp_alerts"]}
    assert alerts == firing
    assert {
        "HedgeopsNightlyLate",
        "HedgeopsNightlyFailed",
        "HedgeopsNightlyNeverSucceeded",
        "HedgeopsQueueBacklog",
        "HedgeopsGuardTripped",
        "HedgeopsConflicts",
    } <= alerts


def exported() -> tuple[set[str], set[str]]:
    """The names of every series we export (counters with `_total`) and their labels."""
    from prometheus_client.metrics import MetricWrapperBase

    from workers import queue_depth
    from workers.metrics import PrometheusGuardObserver, PrometheusRunObserver, PrometheusSyncObserver

    registry = CollectorRegistry()
    observers = [o(registry) for o in (PrometheusRunObserver, PrometheusSyncObserver, PrometheusGuardObserver)]
    metrics = [m for o in observers for m in vars(o).values() if isinstance(m, MetricWrapperBase)]
    names = {m._name + ("_total" if m._type == "counter" else "") for m in metrics} | {queue_depth.NAME}
    labels = {label for m in metrics for label in m._labelnames} | {"queue"}
    return names, labels


def test_the_rules_select_series_and_labels_we_export() -> None:
    names, labels = exported()
    rules = [r for g in yaml.safe_load((RULES / "alerts.yml").read_text())["groups"] for r in g["rules"]]
    exprs = " ".join(r["expr"] for r in rules)
    used = set(re.findall(r"\b([a-z_]+(?:_total|_seconds|_pending|_messages))\b\s*[{[)]", exprs))
    assert used and used <= names, used - names
    selected = set(re.findall(r"[{,]\s*([a-z_]+)\s*=", exprs)) | {
        g.strip() for by in re.findall(r"by \(([^)]*)\)", exprs) for g in by.split(",")
    }
    assert selected <= labels, selected - labels
    assert "job" not in labels  # Prometheus' own: a label of ours called so becomes exported_job


def test_the_series_the_alerts_take_an_increase_of_start_at_zero() -> None:
    from workers.metrics import PrometheusGuardObserver, PrometheusRunObserver

    registry = CollectorRegistry()
    runs, guard = PrometheusRunObserver(registry), PrometheusGuardObserver(registry)
    value = registry.get_sample_value
    assert value("hedgeops_runs_total", {"hedgeops_job": "nightly", "status": "failed"}) == 0
    assert value("hedgeops_conflicts_total", {"hedgeops_job": "mtm"}) == 0
    assert value("drawdown_guard_triggers_total", {"kind": "execution"}) == 0
    assert value("hedgeops_conflicts_total", {"hedgeops_job": "mt5_sync:t1"}) is None
    runs.run_finished("mt5_sync:t1", "succeeded", 1.0, 0, None)  # a terminal's: from its first run on
    assert value("hedgeops_conflicts_total", {"hedgeops_job": "mt5_sync:t1"}) == 0
    assert value("hedgeops_runs_total", {"hedgeops_job": "mt5_sync:t1", "status": "failed"}) == 0
    assert value("hedgeops_runs_total", {"hedgeops_job": "mt5_sync:t1", "status": "succeeded"}) == 1
    guard.guard_triggered("execution")
    assert value("drawdown_guard_triggers_total", {"kind": "execution"}) == 1


NODE = """
import json, os, sys
from prometheus_client import CollectorRegistry, multiprocess
from workers import metrics
metrics.use_multiprocess()
guard, runs = metrics.PrometheusGuardObserver(), metrics.PrometheusRunObserver()
{work}
registry = CollectorRegistry()
multiprocess.MultiProcessCollector(registry)
print(json.dumps([[s.name, s.labels, s.value] for m in registry.collect() for s in m.samples]))
"""


def node_samples(directory: Path, work: str) -> list[tuple[str, dict[str, str], float]]:
    """Run `work` in a process of a node whose values live in `directory`; the node's samples."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    script = NODE.format(work=work)
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [(name, labels, value) for name, labels, value in json.loads(done.stdout)]


def test_a_node_serves_one_value_of_each_gauge_whatever_its_processes(tmp_path: Path) -> None:
    # Two processes of one node: the first read 3 pending intents, the newer one 1.
    node_samples(tmp_path, "guard.intents_pending(3)")
    samples = node_samples(tmp_path, "guard.intents_pending(1)")
    pending = [(labels, value) for name, labels, value in samples if name == "close_intents_pending"]
    assert pending == [({}, 1.0)]  # the newest reading, no `pid` label
    assert not [s for s in samples if "pid" in s[1]], [s for s in samples if "pid" in s[1]]
