"""The Dagster code location loads and validates, with and without the example sync config."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("sync_config", [None, "examples/crm_sync.yaml"])
def test_dagster_definitions_validate(sync_config):
    from pipelines.launch import dagster_instance

    dagster_instance()  # DAGSTER_HOME exists, with the shipped instance config
    env = dict(os.environ)
    env.pop("ROSTER_SYNC_CONFIG", None)
    if sync_config:
        env["ROSTER_SYNC_CONFIG"] = str(ROOT / sync_config)
    p = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-m", "pipelines.definitions"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    assert "All code locations passed validation" in p.stdout + p.stderr


def test_schedules_and_sensors_are_defined():
    from pipelines.crm_sync import build_schedules
    from pipelines.definitions import defs

    sensors = {s.name for s in defs.sensors}
    assert {"queued_imports", "dropped_files"} <= sensors
    assert "import_watchdog" not in sensors  # a thread of the daemon (pipelines/watchdog.py)
    assert [s.name for s in build_schedules(ROOT / "examples/crm_sync.yaml")] == [
        "crm_sync_crm_nightly",
        "crm_sync_shared_folder_export",
    ]
