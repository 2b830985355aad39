"""The run launcher's ready worker: how run monitoring tells its run's process lives or died, and
the sensor daemon's loop that notices queued imports within a second."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import dagster._daemon.sensor as sensor_daemon
from dagster import DagsterRun
from dagster._core.launcher.base import WorkerStatus

from pipelines.run_coordinator import SENSOR_LOOP_SECONDS
from pipelines.run_launcher import WORKER_MODULE, WORKER_TAG, MonitoredRunLauncher


def _run(pid: int) -> DagsterRun:
    return DagsterRun(job_name="contact_import", run_id=str(uuid.uuid4()), tags={WORKER_TAG: str(pid)})


def test_the_sensor_daemon_looks_for_due_sensors_every_half_second():
    assert sensor_daemon.MIN_INTERVAL_LOOP_TIME == SENSOR_LOOP_SECONDS == 0.5


def test_a_run_whose_worker_lives_is_running_and_one_whose_worker_died_fails_after_two_checks():
    launcher = MonitoredRunLauncher()
    # A process of an earlier daemon: known by its command line (the module it runs), not by a handle.
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", WORKER_MODULE])
    try:
        run = _run(worker.pid)
        assert launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING
        worker.kill()
        worker.wait()
        assert launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING  # once could be a run just ending
        assert launcher.check_run_worker_health(run).status == WorkerStatus.FAILED
    finally:
        worker.kill()


def test_a_pid_taken_by_another_program_is_not_the_run_s_worker():
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
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
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # exited, not yet waited for: a zombie
        with open(f"/proc/{worker_pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                break
        time.sleep(0.05)
    try:
        launcher, run = MonitoredRunLauncher(), _run(worker_pid)
        launcher.check_run_worker_health(run)
        assert launcher.check_run_worker_health(run).status == WorkerStatus.FAILED
    finally:
        worker.wait()
