"""A new DAGSTER_HOME made by several processes at once (two `roster import`s on a fresh machine,
the CLI beside the MCP server) ends with Dagster's storages made once: before
pipelines/launch.py made them one process at a time, two stamped alembic_version twice and every
later start failed with "alembic_version has more than one head present"."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

PROCESSES = 4
MAKE = """
import os, sys, time
from pathlib import Path
from pipelines.launch import dagster_instance
go, ready = Path(sys.argv[1]), Path(sys.argv[2])
ready.touch()
while not go.exists():  # all make the instance together, once every one has imported Dagster
    time.sleep(0.01)
dagster_instance().get_runs(limit=1)
"""


@pytest.mark.slow
@pytest.mark.parametrize("attempt", range(3))
def test_processes_making_one_new_dagster_home_at_once_make_its_storages_once(tmp_path, attempt):
    home, go = tmp_path / "dagster", tmp_path / "go"
    env = {**os.environ, "DAGSTER_HOME": str(home), "ROSTER_DATA_DIR": str(tmp_path / "data")}
    ready = [tmp_path / f"ready-{n}" for n in range(PROCESSES)]
    procs = [
        subprocess.Popen([sys.executable, "-c", MAKE, str(go), str(r)], env=env, stderr=subprocess.PIPE, text=True) for r in ready
    ]
    deadline = time.monotonic() + 300
    while not all(r.exists() for r in ready):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), "a process did not start"
        time.sleep(0.05)
    go.touch()
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
    databases = sorted(Path(home).rglob("*.db"))
    assert databases, list(Path(home).rglob("*"))
    for db in databases:
        with sqlite3.connect(db) as conn:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "alembic_version" in tables:
                heads = conn.execute("SELECT count(*) FROM alembic_version").fetchone()[0]
                assert heads == 1, f"{db.name}: {heads} rows in alembic_version"
    # and a later process starts on it
    again = subprocess.run(
        [sys.executable, "-c", "from pipelines.launch import dagster_instance; dagster_instance().get_runs(limit=1)"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr[-2000:]
