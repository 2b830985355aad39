"""The daemon stops the runs of a cancelled import (pipelines/cancelled_runs.py): its worker gets
the interrupt Dagster's terminate sends (a real process here); other imports' runs are left alone.
The launcher does it the moment PostgreSQL says the import ended; the sensor is its backstop."""

from __future__ import annotations

import subprocess
import sys

from dagster import DagsterRunStatus, build_sensor_context

from pipelines.cancelled_runs import cancelled_imports
from pipelines.jobs import contact_import_job
from pipelines.launch import dagster_instance
from pipelines.run_launcher import WORKER_MODULE, WORKER_TAG
from resources.database import Database
from roster.landing import LandingStore
from roster.store import cancel
from schemas.import_options import ImportOptions
from tests.helpers import WAIT_SECONDS, create_import, write_csv

SLEEPER = "import signal, sys, time\nsignal.signal(signal.SIGINT, lambda *a: sys.exit(3))\ntime.sleep(300)"


def _running(instance, import_id: str, worker: subprocess.Popen):
    """A started run of the import whose worker is `worker` (as the run launcher tags it)."""
    from pipelines.in_process import import_defs

    return instance.create_run_for_job(
        job_def=import_defs.resolve_job_def(contact_import_job.name),
        tags={"dagster/partition": import_id, WORKER_TAG: str(worker.pid)},
        status=DagsterRunStatus.STARTED,
    )


def test_a_cancelled_imports_run_is_stopped(engine, team, tmp_path):
    def by_the_sensor(instance):
        result = cancelled_imports(build_sensor_context(instance=instance, resources={"database": Database()}))
        assert "asked 1 runs" in result.skip_message

    _cancel_and_stop(engine, team, tmp_path, by_the_sensor)


def test_the_launcher_stops_a_cancelled_imports_run_when_told(engine, team, tmp_path):
    """No sensor here: only the notification of the cancel (the import ended) can have stopped it."""
    from pipelines.launcher import Launcher

    launcher: list[Launcher] = []

    def listening(instance):
        launcher.append(Launcher(instance, engine.url.render_as_string(hide_password=False)).start())
        assert launcher[0].listening.wait(WAIT_SECONDS)

    try:
        _cancel_and_stop(engine, team, tmp_path, lambda instance: None, before_cancel=listening)
    finally:
        for each in launcher:
            each.stop()


def _cancel_and_stop(engine, team, tmp_path, stop, before_cancel=lambda instance: None):
    _, team_id = team
    path = write_csv(tmp_path / "a.csv", ["email"], [["a@example.com"]])
    cancelled = create_import(engine, LandingStore(), team_id, path, "a.csv", ImportOptions(), source="api")
    other = create_import(engine, LandingStore(), team_id, path, "a.csv", ImportOptions(), source="api")
    instance = dagster_instance()
    # Stand-ins for run workers: WORKER_MODULE in their command line, as the launcher checks.
    workers = {i: subprocess.Popen([sys.executable, "-c", SLEEPER, WORKER_MODULE]) for i in (cancelled, other)}
    try:
        runs = {i: _running(instance, i, workers[i]) for i in (cancelled, other)}
        before_cancel(instance)
        cancel.cancel(engine, team_id, cancelled)
        stop(instance)
        assert workers[cancelled].wait(timeout=WAIT_SECONDS) == 3  # it got SIGINT
        assert instance.get_run_by_id(runs[cancelled].run_id).status == DagsterRunStatus.CANCELING
        assert workers[other].poll() is None
        assert instance.get_run_by_id(runs[other].run_id).status == DagsterRunStatus.STARTED
    finally:
        for w in workers.values():
            w.kill()
            w.wait()
