"""Settings: a bad one stops start-up (CLI and worker) with one line naming it, exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workers.settings import Settings, SettingsError, load_settings

BIN = Path(sys.executable).parent


def run(cmd: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("HEDGEOPS_")}
    full.update(env)
    return subprocess.run(cmd, env=full, cwd=cwd, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    "name, value, says",
    [
        ("HEDGEOPS_MTM_CHUNK_SIZE", "0", "HEDGEOPS_MTM_CHUNK_SIZE"),
        ("HEDGEOPS_D1_POLICY", "weekly", "HEDGEOPS_D1_POLICY"),
        ("HEDGEOPS_DATABASE_URL", "mysql://x", "HEDGEOPS_DATABASE_URL"),
        ("HEDGEOPS_BROKER_URL", "amqp://guest@localhost", "HEDGEOPS_BROKER_URL"),
        ("HEDGEOPS_TASK_TIME_LIMIT", "7200", "visibility_timeout"),
        ("HEDGEOPS_NIGHTLY_AT", "25:99", "HEDGEOPS_NIGHTLY_AT"),
        (
            "HEDGEOPS_CHART_OF_ACCOUNTS",
            '{"cash_flow": {"derivative_asset": "1450"}}',
            "HEDGEOPS_CHART_OF_ACCOUNTS: chart of accounts: missing cash_flow.derivative_liability",
        ),
    ],
)
class TestBadSetting:
    def test_the_cli_exits_2_with_one_line(self, name: str, value: str, says: str, tmp_path: Path) -> None:
        result = run([str(BIN / "hedgeops"), "status"], {name: value}, tmp_path)
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("hedgeops: invalid setting") and says in lines[0]

    def test_the_worker_exits_2_with_one_line(self, name: str, value: str, says: str, tmp_path: Path) -> None:
        result = run(
            [str(BIN / "celery"), "-A", "workers.celery_app", "worker", "--pool", "solo"], {name: value}, tmp_path
        )
        assert result.returncode == 2
        assert says in result.stderr and "hedgeops: invalid setting" in result.stderr


class TestSettings:
    def test_defaults_are_the_embedded_mode(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        monkeypatch.chdir(tmp_path)
        for key in [k for k in os.environ if k.startswith("HEDGEOPS_")]:
            monkeypatch.delenv(key)
        settings = load_settings()
        assert settings.database_url == "sqlite:///./var/hedgeops.db"
        assert not settings.distributed
        assert settings.price_drop_dir == Path("var/prices/incoming")

    def test_a_broker_url_switches_to_distributed(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("HEDGEOPS_BROKER_URL", "redis://127.0.0.1:6379/0")
        monkeypatch.setenv("HEDGEOPS_DATABASE_URL", "postgresql+psycopg://u@127.0.0.1/hedgeops")  # both: issue 20
        assert load_settings().distributed

    def test_a_dotenv_file_is_read(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        monkeypatch.chdir(tmp_path)
        monkeypatch.delenv("HEDGEOPS_MTM_CHUNK_SIZE", raising=False)
        (tmp_path / ".env").write_text("HEDGEOPS_MTM_CHUNK_SIZE=77\n")
        assert load_settings().mtm_chunk_size == 77

    def test_plain_postgresql_urls_use_psycopg3(self) -> None:
        assert Settings(database_url="postgresql://u@h/db").database_url == "postgresql+psycopg://u@h/db"

    def test_soft_limit_must_be_below_hard_limit(self) -> None:
        with pytest.raises(SettingsError, match="task_soft_time_limit must be below task_time_limit"):
            load_settings(task_soft_time_limit=600, task_time_limit=600)


class TestChartOfAccounts:
    def test_unset_is_the_demo_chart(self) -> None:
        from core.hedging.accounts import DEFAULT_CHART

        assert load_settings().chart() == DEFAULT_CHART

    def test_a_file_of_a_complete_chart(self, tmp_path: Path) -> None:
        import json

        from core.hedging.accounts import AccountRole
        from core.hedging.dossier import HedgeType

        shipped = Path(__file__).parents[2] / "workers" / "sample_data" / "chart_of_accounts.json"
        chart = json.loads(shipped.read_text(encoding="utf-8"))
        chart["cash_flow"]["cash_flow_hedge_reserve"] = "3599"
        (tmp_path / "chart.json").write_text(json.dumps(chart), encoding="utf-8")
        settings = load_settings(chart_of_accounts_file=tmp_path / "chart.json")
        assert settings.chart().code(HedgeType.CASH_FLOW, AccountRole.CASH_FLOW_HEDGE_RESERVE) == "3599"

    @pytest.mark.parametrize(
        ("raw", "message"),
        [
            (
                {"fair_value": {}},
                "invalid setting HEDGEOPS_CHART_OF_ACCOUNTS: chart of accounts: missing cash_flow.derivative_asset",
            ),
            (
                {"cash_flow": "1450"},
                "invalid setting HEDGEOPS_CHART_OF_ACCOUNTS.CASH_FLOW: Input should be a valid dict",
            ),
        ],
    )
    def test_an_incomplete_chart_is_refused(self, raw: object, message: str) -> None:
        with pytest.raises(SettingsError) as refused:
            load_settings(chart_of_accounts=raw)
        assert str(refused.value).startswith(message)
        assert "\n" not in str(refused.value)


class TestUnknownNames:
    """Issue 20, point 2: a misspelt HEDGEOPS_* name stops start-up (it would run on a default)."""

    TYPO = "hedgeops: unknown setting HEDGEOPS_DATABSE_URL ({where}; did you mean HEDGEOPS_DATABASE_URL?)"

    def test_the_cli_names_it_and_the_closest_known_name(self, tmp_path: Path) -> None:
        result = run([str(BIN / "hedgeops"), "status"], {"HEDGEOPS_DATABSE_URL": "postgresql://x/y"}, tmp_path)
        assert result.returncode == 2
        [line] = result.stderr.strip().splitlines()
        assert line.startswith(self.TYPO.format(where="environment")) and "HEDGEOPS_ALLOW_UNKNOWN_SETTINGS" in line
        assert list(tmp_path.iterdir()) == []

    def test_a_dotenv_name_too_and_every_unknown_name_at_once(self, tmp_path: Path) -> None:
        (tmp_path / ".env").write_text("HEDGEOPS_DATABSE_URL=sqlite:///x.db\nOTHER=1\n")
        result = run([str(BIN / "hedgeops"), "status"], {"HEDGEOPS_QQQ": "1"}, tmp_path)
        assert result.returncode == 2
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("hedgeops: unknown settings HEDGEOPS_DATABSE_URL (.env; did you mean")
        assert "HEDGEOPS_QQQ (environment), " not in line and "HEDGEOPS_QQQ (environment):" in line

    def test_the_worker_and_beat_stop_too(self, tmp_path: Path) -> None:
        for cmd in (["worker", "--pool", "solo"], ["beat"]):
            result = run(
                [str(BIN / "celery"), "-A", "workers.celery_app", *cmd], {"HEDGEOPS_NIGHTLY_AT_UTC": "1"}, tmp_path
            )
            assert result.returncode == 2
            assert result.stderr.strip().splitlines() == [
                "hedgeops: unknown setting HEDGEOPS_NIGHTLY_AT_UTC (environment; did you mean HEDGEOPS_NIGHTLY_AT?): "
                "correct or remove it, or set HEDGEOPS_ALLOW_UNKNOWN_SETTINGS=true to start with a warning"
            ]

    def test_allowed_it_is_a_warning(self, tmp_path: Path) -> None:
        env = {"HEDGEOPS_DATABSE_URL": "x", "HEDGEOPS_ALLOW_UNKNOWN_SETTINGS": "true", "HEDGEOPS_LOG_FORMAT": "json"}
        result = run([str(BIN / "hedgeops"), "db", "upgrade"], env, tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stderr.splitlines()[0] == (
            "hedgeops: warning: unknown setting(s) ignored: "
            "HEDGEOPS_DATABSE_URL (environment; did you mean HEDGEOPS_DATABASE_URL?)"
        )
        worker = subprocess.Popen(
            [str(BIN / "celery"), "-A", "workers.celery_app", "worker", "--pool", "solo", "--loglevel", "INFO"],
            env={**{k: v for k, v in os.environ.items() if not k.startswith("HEDGEOPS_")}, **env},
            cwd=tmp_path,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            first = json.loads(worker.stderr.readline() if worker.stderr else "{}")
        finally:
            worker.terminate()
            worker.wait(30)
        assert (first["event"], first["names"]) == (
            "unknown_settings_ignored",
            ["HEDGEOPS_DATABSE_URL (environment; did you mean HEDGEOPS_DATABASE_URL?)"],
        )

    def test_names_are_read_without_case_and_the_known_others_pass(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("hedgeops_mtm_chunk_size", "9")
        monkeypatch.setenv("HEDGEOPS_FAULT_DIR", str(tmp_path))
        assert load_settings().mtm_chunk_size == 9
        monkeypatch.setenv("hedgeops_mtm_chunksize", "9")
        with pytest.raises(
            SettingsError, match="HEDGEOPS_MTM_CHUNKSIZE .environment; did you mean HEDGEOPS_MTM_CHUNK_SIZE"
        ):
            load_settings()
