"""The run launcher's workers: how run monitoring tells a run's process lives or died; and
that nothing of Roster makes Dagster's daemon poll faster than its own defaults."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

from dagster import DagsterRun
from dagster._core.launcher.base import WorkerStatus

from pipelines.run_launcher import WORKER_MODULE, WORKER_TAG, MonitoredRunLauncher
from tests.helpers import wait_for


def _run(pid: int) -> DagsterRun:
    return DagsterRun(job_name="contact_import", run_id=str(uuid.uuid4()), tags={WORKER_TAG: str(pid)})


def _started(argv: list[str]) -> subprocess.Popen:
    """A process running `argv`, once its command line is the new program's. Popen returns as soon
    as the child starts exec'ing; until the kernel has set up the new program (a moment, longer on
    a loaded machine), /proc/PID/cmdline reads empty, and the process is nobody's worker yet."""
    proc = subprocess.Popen(argv)
    wait_for(lambda: Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")[:-1] == [a.encode() for a in argv], "exec")
    return proc


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def test_no_sensor_polls_faster_than_dagster_s_sensor_loop_and_dagster_is_not_patched():
    """Idle means idle: a queued import is started by the launcher PostgreSQL wakes
    (pipelines/launcher.py), so no sensor needs a tick under Dagster's 5 s loop, and loading
    Roster's instance plug-ins changes nothing in Dagster (no sub-second loop)."""
    import dagster._daemon.sensor as sensor_daemon

    import pipelines.run_coordinator  # noqa: F401  loaded by every process that holds the instance
    from pipelines.definitions import defs

    assert sensor_daemon.MIN_INTERVAL_LOOP_TIME == 5
    intervals = {s.name: s.minimum_interval_seconds for s in defs.sensors}
    assert min(intervals.values()) >= 5, intervals


def test_a_run_whose_worker_lives_is_running_and_one_whose_worker_died_fails_after_two_checks():
    launcher = MonitoredRunLauncher()
    # A process of an earlier daemon: known by its command line (the module it runs), not by a handle.
    worker = _started([sys.executable, "-c", "import time; time.sleep(600)", WORKER_MODULE])
    try:
        run = _run(worker.pid)
        first = launcher.check_run_worker_health(run)
        assert first.status == WorkerStatus.RUNNING and first.msg is None, first  # found alive, not a first miss
        worker.kill()
        worker.wait()
        assert launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING  # once could be a run just ending
        assert launcher.check_run_worker_health(run).status == WorkerStatus.FAILED
    finally:
        worker.kill()


def test_a_pid_taken_by_another_program_is_not_the_run_s_worker():
    other = _started([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        launcher, run = MonitoredRunLauncher(), _run(other.pid)
        assert launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING
        assert launcher.check_run_worker_health(run).status == WorkerStatus.FAILED
    finally:
        other.kill()
        other.wait()


def test_a_zombie_worker_is_dead():
    worker = subprocess.Popen([sys.executable, "-c", "pass", WORKER_MODULE])
    worker_pid = worker.pid
    wait_for(lambda: _state(worker_pid) == "Z", "the worker to exit (not yet waited for: a zombie)")
    try:
        launcher, run = MonitoredRunLauncher(), _run(worker_pid)
        launcher.check_run_worker_health(run)
        assert launcher.check_run_worker_health(run).status == WorkerStatus.FAILED
    finally:
        worker.wait()
