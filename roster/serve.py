"""`roster serve`: the API, the Dagster daemon (sensors, run queue) and the Dagster UI together,
in the foreground, on one database; Ctrl-C or SIGTERM stops them all.

In production run the pieces separately (see the README): `uvicorn roster.api.app:app`,
`dagster-daemon run -m pipelines.definitions`, `dagster-webserver -m pipelines.definitions`,
with the same DATABASE_URL, ROSTER_DATA_DIR and DAGSTER_HOME.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console

from roster.database import database_url
from roster.launch import dagster_instance
from roster.settings import get_settings

err = Console(stderr=True)


def _environment() -> dict[str, str]:
    """One database and one Dagster home for every process (the embedded server is started here)."""
    env = os.environ.copy()
    env["DATABASE_URL"] = database_url()
    dagster_instance()  # creates DAGSTER_HOME with the shipped instance config
    env["DAGSTER_HOME"] = str(get_settings().dagster_home)
    env["ROSTER_DATA_DIR"] = str(get_settings().data_dir)
    env.setdefault("ROSTER_LAUNCH", "sensor")
    return env


def commands(host: str, port: int, ui_port: int | None) -> dict[str, list[str]]:
    bin_dir = Path(sys.executable).parent
    cmds = {
        "api": [sys.executable, "-m", "uvicorn", "roster.api.app:app", "--host", host, "--port", str(port), "--no-access-log"],
        "daemon": [str(bin_dir / "dagster-daemon"), "run", "-m", "pipelines.definitions"],
    }
    if ui_port:
        cmds["ui"] = [str(bin_dir / "dagster-webserver"), "-m", "pipelines.definitions", "-h", host, "-p", str(ui_port)]
    return cmds


def serve(host: str, port: int, ui_port: int | None) -> int:
    env = _environment()
    procs: dict[str, subprocess.Popen] = {}
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for name, cmd in commands(host, port, ui_port).items():
        # Their own process groups: a child's children (runs launched by the daemon) stop with it.
        procs[name] = subprocess.Popen(cmd, env=env, start_new_session=True)
    err.print(f"roster: API on http://{host}:{port}" + (f", Dagster UI on http://{host}:{ui_port}" if ui_port else "")
              + f"; database {env['DATABASE_URL'].split('@')[-1]}; Ctrl-C stops")
    code = 0
    while not stopping:
        for name, p in procs.items():
            if p.poll() is not None:
                err.print(f"[red]roster: {name} exited with {p.returncode}; stopping the rest[/red]")
                code, stopping = 1, True
                break
        time.sleep(0.5)
    for p in procs.values():
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for p in procs.values():
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    return code
