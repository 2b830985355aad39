"""The schedule storage keeps its file open (pipelines/sqlite_storage.py), one of the changes that
keep an idle `roster serve` quiet; bench/idle_cpu.py measures the idle CPU itself."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_the_shipped_instance_config_uses_the_pooled_schedule_storage():
    config = yaml.safe_load((ROOT / "pipelines" / "dagster.yaml").read_text())
    assert config["schedule_storage"] == {"module": "pipelines.sqlite_storage", "class": "PooledSqliteScheduleStorage"}


def test_the_pooled_schedule_storage_works(tmp_path):
    from pipelines.sqlite_storage import PooledSqliteScheduleStorage

    schedules = PooledSqliteScheduleStorage.from_local(str(tmp_path / "schedules"))
    try:
        assert schedules.has_instigators_table() and schedules.has_instigators_table()  # the second remembered
        assert list(schedules.all_instigator_state()) == []
    finally:
        schedules.dispose()
