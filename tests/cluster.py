"""A stand-in for several machines on this one: the Dagster daemon and N Celery workers,
each with its own working directory, DAGSTER_HOME and data directory, sharing only PostgreSQL,
RabbitMQ and Redis (deploy/README.md). Used by tests/test_scale.py and bench/scale.py.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
BROKER = os.environ.get("ROSTER_TEST_CELERY_BROKER", "pyamqp://guest@localhost:5672//")
BACKEND = os.environ.get("ROSTER_TEST_CELERY_BACKEND", "redis://localhost:6379/0")


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "localhost", parts.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def missing() -> str | None:
    try:
        import dagster_celery  # noqa: F401
        import redis  # noqa: F401
    except ImportError as e:
        return f"dagster-celery is not installed ({e.name}): pip install -e '.[scale]'"
    if not reachable(BROKER, 5672):
        return f"no RabbitMQ at {BROKER}"
    if not reachable(BACKEND, 6379):
        return f"no Redis at {BACKEND}"
    return None


def machine(tmp: Path, name: str, dagster_url: str, database_url: str, max_runs: int = 2, settings: dict | None = None) -> dict:
    """The environment of one "machine": its own folders, the shared database and broker."""
    home = tmp / name / "dagster"
    home.mkdir(parents=True)
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROSTER_", "DAGSTER_", "PYTEST"))}
    env.update(
        DAGSTER_HOME=str(home),
        DAGSTER_POSTGRES_URL=dagster_url,
        DATABASE_URL=database_url,
        ROSTER_DATA_DIR=str(tmp / name / "data"),
        ROSTER_LANDING="postgres",
        ROSTER_CELERY_BROKER=BROKER,
        ROSTER_CELERY_BACKEND=BACKEND,
        ROSTER_MAX_CONCURRENT_RUNS=str(max_runs),
        PYTHONUNBUFFERED="1",
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        PYTHONPATH=str(ROOT / "deploy"),  # the workers' Celery settings, as the Dockerfile sets it
    )
    env.update(settings or {})
    return env


def worker_command(name: str) -> list[str]:
    """The worker's command exactly as deploy/docker-compose.yml gives it (`celery` itself, so that
    SIGTERM reaches it), from this checkout, named so that its log says which worker took a run."""
    import yaml

    compose = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text())
    cmd = [arg.replace("/opt/roster", str(ROOT)) for arg in compose["services"]["worker"]["command"]]
    return [str(BIN / cmd[0]), *cmd[1:], "-n", f"{name}@%h"]


def start_worker(
    tmp: Path, name: str, dagster_url: str, database_url: str, max_runs: int = 2, settings: dict | None = None
) -> tuple[subprocess.Popen, Path]:
    """One more worker "machine" (its own folders, and any ROSTER_* settings of its own): the
    process, and its log."""
    env = machine(tmp, name, dagster_url, database_url, max_runs, settings)
    log = tmp / f"{name}.log"
    return start(worker_command(name), tmp / name, env, log), log


def start(cmd: list[str], cwd: Path, env: dict, log: Path) -> subprocess.Popen:
    # A session of its own: SIGKILL to the group is a machine's worth of processes dying at once.
    return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)


def purge_queue(env: dict) -> None:
    """Runs of an earlier, interrupted session must not reach these workers."""
    from celery import Celery

    app = Celery(broker=env["ROSTER_CELERY_BROKER"])
    try:
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge("dagster")
    except Exception:
        pass  # no queue yet


@contextlib.contextmanager
def one_cluster_at_a_time(lock: Path = Path("/tmp/roster-scale-cluster.lock")):
    """Every cluster on this machine takes runs from the same broker queue (`dagster`): two at once
    would run each other's runs. So clusters (test sessions, a benchmark) take turns."""
    with lock.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def start_cluster(
    tmp: Path, dagster_url: str, database_url: str, workers: int, max_runs: int, worker_settings: dict | None = None
) -> tuple[dict, dict, dict]:
    """(processes, their logs, the daemon's environment): the daemon and workers w1..wN (more can
    join later: start_worker)."""
    daemon_env = machine(tmp, "daemon", dagster_url, database_url, max_runs)
    purge_queue(daemon_env)
    names = ["daemon", *(f"w{i + 1}" for i in range(workers))]
    logs = {name: tmp / f"{name}.log" for name in names}
    procs = {
        "daemon": start(
            [str(BIN / "dagster-daemon"), "run", "-w", str(ROOT / "workspace.yaml")], ROOT, daemon_env, logs["daemon"]
        )
    }
    for name in names[1:]:
        procs[name], logs[name] = start_worker(tmp, name, dagster_url, database_url, max_runs, worker_settings)
    return procs, logs, daemon_env


def stop_cluster(procs: dict) -> None:
    from tests.processes import stop_tree

    for proc in procs.values():
        stop_tree(proc, timeout=20)
    for proc in procs.values():  # a killed worker's pool children are in its session too
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
