"""Settings: a bad one stops start-up (CLI and worker) with one line naming it, exit 2."""

from __future__ import annotations

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
