"""The run launcher's fork server (pipelines/warm_run.py): each contact_import run in a worker of its
own, forked from one process that loaded Dagster and the code location once. Real runs of real
imports here, launched by a MonitoredRunLauncher on the tests' instance (no daemon)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from dagster import DagsterEventType, DagsterRunStatus, DefaultRunLauncher, RunsFilter

from pipelines.dagster_internals import ACTIVE_RUN_STATUSES, LaunchRunContext, job_origins, serialize_value
from pipelines.launch import dagster_instance
from pipelines.run_launcher import WORKER_MODULE, WORKER_TAG, MonitoredRunLauncher
from roster.landing import LandingStore
from schemas.import_options import ImportOptions
from tests.helpers import create_import, wait_for, write_csv


class _ByDagster(DefaultRunLauncher):
    """Dagster's own launch (through a code server: there is none here), recorded instead."""

    by_dagster: list[str]

    def launch_run(self, context: LaunchRunContext) -> None:
        self.by_dagster.append(context.dagster_run.run_id)


class _Launches(MonitoredRunLauncher, _ByDagster):
    """The launcher under test: its `super().launch_run` is _ByDagster's."""

    def __init__(self, warm_worker: bool = True) -> None:
        super().__init__(warm_worker=warm_worker)
        self.by_dagster = []


@pytest.fixture
def launcher():
    instance = dagster_instance()
    _end_runs_left_started(instance)
    launcher = _Launches()
    launcher.register_instance(instance)
    yield launcher
    launcher.dispose()
    _end_runs_left_started(instance)


def _end_runs_left_started(instance) -> None:
    """Runs that tests in this process left started (those "launched by Dagster" here never run)
    would count against the run queue's limits, which every launch checks (pipelines/run_queue.py)."""
    for record in instance.get_run_records(filters=RunsFilter(statuses=ACTIVE_RUN_STATUSES)):
        instance.report_run_failed(record.dagster_run, "left started by an earlier test")


@pytest.fixture
def faults(tmp_path, monkeypatch) -> Path:
    """ROSTER_FAULT_DIR for the fork server this test starts (roster/runtime/faults.py)."""
    folder = tmp_path / "faults"
    folder.mkdir()
    monkeypatch.setenv("ROSTER_FAULT_DIR", str(folder))
    return folder


# What the daemon's dequeue loop passes (a workspace, so that Dagster's launch can find a code
# server); _ByDagster never reads it. The launcher thread passes None (pipelines/launcher.py).
THE_LOOPS_WORKSPACE = object()


def _launch(
    launcher: MonitoredRunLauncher, engine, team_id: int, tmp_path: Path, name: str, workspace=THE_LOOPS_WORKSPACE
) -> str:
    """A new import of one contact and its contact_import run, launched; the run's id."""
    run = launcher._instance.get_run_by_id(_new_run(launcher._instance, engine, team_id, tmp_path, name))
    launcher.launch_run(LaunchRunContext(dagster_run=run, workspace=workspace))  # type: ignore[arg-type]
    return run.run_id


def _new_run(instance, engine, team_id: int, tmp_path: Path, name: str) -> str:
    """A new import of one contact and its contact_import run, as the daemon is about to launch it."""
    from pipelines.definitions import defs

    path = write_csv(tmp_path / f"{name}.csv", ["email"], [[f"{name}@example.com"]])
    import_id = create_import(engine, LandingStore(), team_id, path, path.name, ImportOptions(), source="api")
    instance.add_dynamic_partitions("contact_imports", [import_id])
    job = defs.resolve_job_def("contact_import")
    remote, code = job_origins(defs, job.name)
    run = instance.create_run_for_job(
        job_def=job,
        run_config={},
        tags={**job.run_tags, "dagster/partition": import_id},
        status=DagsterRunStatus.STARTING,
        remote_job_origin=remote,
        job_code_origin=code,
    )
    return run.run_id


def _ended(launcher: MonitoredRunLauncher, run_id: str):
    def ended():
        run = launcher._instance.get_run_by_id(run_id)
        return run if run.is_finished else None

    return wait_for(ended, f"run {run_id} to end")


def _paused(faults: Path, stage: str) -> int:
    paused = faults / f"{stage}.paused"
    return int(wait_for(lambda: paused.exists() and paused.read_text(), f"a worker paused at {stage}"))


def _launch_paused_at_staging(
    launcher: MonitoredRunLauncher, engine, team_id: int, tmp_path: Path, faults: Path, name: str
) -> tuple[str, int]:
    """A run launched and held at its staging step: (its id, its worker's pid)."""
    (faults / "staging.pause").write_text("")
    run_id = _launch(launcher, engine, team_id, tmp_path, name)
    return run_id, _paused(faults, "staging")


def _ppid(pid: int) -> int:
    return psutil.Process(pid).ppid()


def _engine_messages(launcher: MonitoredRunLauncher, run_id: str) -> list[str]:
    logs = launcher._instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT)
    return [entry.dagster_event.message or "" for entry in logs if entry.dagster_event is not None]


def test_runs_in_a_row_are_workers_forked_by_one_server_which_reaps_them(launcher, engine, team, tmp_path, faults):
    _, team_id = team
    first, worker = _launch_paused_at_staging(launcher, engine, team_id, tmp_path, faults, "first")
    server = launcher._server.proc.pid
    assert _ppid(worker) == server, "forked by the server"
    assert WORKER_MODULE.encode() in Path(f"/proc/{worker}/cmdline").read_bytes()  # what run monitoring checks
    assert launcher._instance.get_run_by_id(first).tags[WORKER_TAG] == str(worker), "tagged before the run started"
    (faults / "staging.paused").unlink()
    assert _ended(launcher, first).status == DagsterRunStatus.SUCCESS

    second = _launch(launcher, engine, team_id, tmp_path, "second")
    assert _ended(launcher, second).status == DagsterRunStatus.SUCCESS
    assert launcher._server.proc.pid == server, "the same server"
    pids = [int(launcher._instance.get_run_by_id(r).tags[WORKER_TAG]) for r in (first, second)]
    assert pids[0] == worker and pids[1] not in (worker, server)
    assert f"Started process for run (pid: {pids[1]})." in _engine_messages(launcher, second), "Dagster's own run body"
    wait_for(lambda: psutil.Process(server).children() == [], "the server to reap its workers (no zombies)")
    assert launcher.by_dagster == []


def test_a_killed_worker_fails_its_run_at_once_and_the_next_run_still_works(launcher, engine, team, tmp_path, faults):
    _, team_id = team
    killed, worker = _launch_paused_at_staging(launcher, engine, team_id, tmp_path, faults, "killed")
    os.kill(worker, signal.SIGKILL)
    # No daemon here: no run monitoring, only the launcher can have failed it.
    assert _ended(launcher, killed).status == DagsterRunStatus.FAILURE
    said = f"The run's worker (pid {worker}) exited with code -9 before the run ended."
    assert any(said in message for message in _engine_messages(launcher, killed))
    (faults / "staging.paused").unlink()

    after = _launch(launcher, engine, team_id, tmp_path, "after")
    assert _ended(launcher, after).status == DagsterRunStatus.SUCCESS
    assert launcher.by_dagster == []


def test_a_terminated_worker_cancels_its_run(launcher, engine, team, tmp_path, faults):
    _, team_id = team
    run_id, worker = _launch_paused_at_staging(launcher, engine, team_id, tmp_path, faults, "cancelled")
    assert launcher.terminate(run_id)
    (faults / "staging.paused").unlink()
    assert _ended(launcher, run_id).status == DagsterRunStatus.CANCELED
    wait_for(lambda: not psutil.pid_exists(worker), "the worker to exit")


def test_a_killed_server_is_replaced_and_runs_go_through_dagster_meanwhile(launcher, engine, team, tmp_path):
    _, team_id = team
    assert _ended(launcher, _launch(launcher, engine, team_id, tmp_path, "one")).status == DagsterRunStatus.SUCCESS
    first = launcher._server
    first.proc.kill()
    wait_for(first.gone.is_set, "the launcher to see the server gone")

    meanwhile = _launch(launcher, engine, team_id, tmp_path, "meanwhile")
    assert launcher.by_dagster == [meanwhile], "launched by Dagster while the new server loads"
    second = launcher._server
    assert second is not first and second.proc.pid != first.proc.pid
    wait_for(second.ready.is_set, "the new server to load")
    after = _launch(launcher, engine, team_id, tmp_path, "after")
    assert _ended(launcher, after).status == DagsterRunStatus.SUCCESS
    assert launcher.by_dagster == [meanwhile]


def test_a_run_the_launcher_started_while_no_server_is_ready_goes_back_in_the_queue(launcher, engine, team, tmp_path):
    """The launcher thread has no workspace, so no code server to start a run through: the run is
    queued again for the dequeue loop, which has one, and is not failed."""
    _, team_id = team
    assert _ended(launcher, _launch(launcher, engine, team_id, tmp_path, "one")).status == DagsterRunStatus.SUCCESS
    first = launcher._server
    first.proc.kill()
    wait_for(first.gone.is_set, "the launcher to see the server gone")

    given_back = _launch(launcher, engine, team_id, tmp_path, "given-back", workspace=None)
    assert launcher.by_dagster == []
    assert launcher._instance.get_run_by_id(given_back).status == DagsterRunStatus.QUEUED
    assert any("back in the queue" in m for m in _engine_messages(launcher, given_back))
    # The loop starts it later, with its workspace: admitted again, not refused as launched before.
    run = launcher._instance.get_run_by_id(given_back)
    launcher.launch_run(LaunchRunContext(dagster_run=run, workspace=THE_LOOPS_WORKSPACE))  # type: ignore[arg-type]
    assert launcher.by_dagster == [given_back]


DAEMON = """
import subprocess, sys, time
server = subprocess.Popen([sys.executable, "-m", sys.argv[1], sys.argv[2]], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
server.stdin.write(sys.argv[3] + "\\n")
server.stdin.flush()
while not (line := server.stdout.readline()).startswith("started"):
    pass
print(server.pid, line.split()[2], flush=True)
time.sleep(600)
"""


def test_the_server_and_its_workers_end_with_the_daemon(engine, team, tmp_path, faults, monkeypatch):
    """A stand-in daemon: it starts the fork server as the launcher does and hands it a run; then it
    is SIGKILLed. The server sees its stdin close; the worker, paused mid-run, follows the daemon
    (ROSTER_LIFELINE, as under `roster serve`), not the server."""
    _, team_id = team
    instance = dagster_instance()
    (faults / "staging.pause").write_text("")
    run_id = _new_run(instance, engine, team_id, tmp_path, "orphan")
    monkeypatch.setenv("ROSTER_LIFELINE", "1")
    ref = serialize_value(instance.get_ref())
    daemon = subprocess.Popen([sys.executable, "-c", DAEMON, WORKER_MODULE, ref, run_id], stdout=subprocess.PIPE, text=True)
    try:
        server, worker = map(int, daemon.stdout.readline().split())
        assert _paused(faults, "staging") == worker
        daemon.kill()
        daemon.wait()
        wait_for(lambda: not _alive(server), "the server to end with the daemon")
        wait_for(lambda: not _alive(worker), "the worker to end with the daemon")
    finally:
        daemon.kill()
        (faults / "staging.paused").unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


# Threads a process has once polars is imported, from polars' own native code: its allocator's
# background threads and its spill-file cleaner. A fork copies none of them, and a worker needs
# none that its own polars does not start again (its thread pool starts in the worker).
POLARS_OWN_THREADS = {"jemalloc_bg_thd", "polars-ooc-clea"}


def test_the_server_forks_with_no_thread_of_its_own_and_polars_pool_not_started(launcher, engine, team, tmp_path):
    _, team_id = team
    assert _ended(launcher, _launch(launcher, engine, team_id, tmp_path, "threads")).status == DagsterRunStatus.SUCCESS
    server = launcher._server.proc.pid
    names = [Path(f"/proc/{server}/task/{t}/comm").read_text().strip() for t in os.listdir(f"/proc/{server}/task")]
    main = Path(f"/proc/{server}/comm").read_text().strip()
    assert names.count(main) == 1, names  # no Python thread beside the main one (no lifeline thread, none of Dagster's)
    assert set(names) - {main} <= POLARS_OWN_THREADS, names  # no polars pool ("polars-0", ...): no polars work ran


def test_a_run_handed_to_a_server_that_dies_before_forking_it_fails(launcher, engine, team, tmp_path):
    """The daemon's first run waits for the first server to load; killed meanwhile, the server never
    forks it: the run is failed at once (the daemon's retries start it again), not left STARTING."""
    _, team_id = team
    run_id = _launch(launcher, engine, team_id, tmp_path, "orphaned")
    assert not launcher._server.ready.is_set(), "still loading"
    launcher._server.proc.kill()
    assert _ended(launcher, run_id).status == DagsterRunStatus.FAILURE
    assert any("never started" in message for message in _engine_messages(launcher, run_id))
    assert launcher.by_dagster == []


def test_warm_worker_false_launches_through_dagster(engine, team, tmp_path):
    """`warm_worker: false` under run_launcher.config (dagster.yaml): Dagster's launch (a code
    server), no fork server started."""
    _, team_id = team
    instance = dagster_instance()  # the launcher holds it by a weak reference
    launcher = _Launches(warm_worker=False)
    launcher.register_instance(instance)
    run_id = _launch(launcher, engine, team_id, tmp_path, "cold")
    assert launcher.by_dagster == [run_id] and launcher._server is None
