"""The run queue's limits hold whoever starts a run in the daemon, its dequeue loop or the launcher
(pipelines/run_queue.py): counted again at launch, under one lock, and no run launched twice."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest
import yaml
from dagster import DagsterInstance, DagsterRunStatus

from pipelines import run_queue
from pipelines.launch import SHIPPED_INSTANCE_CONFIG

SHIPPED = yaml.safe_load(SHIPPED_INSTANCE_CONFIG.read_text())["run_coordinator"]["config"]


@pytest.fixture
def instance(tmp_path: Path):
    """An instance with the shipped run queue (its limits as shipped), in a folder of its own."""
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text(SHIPPED_INSTANCE_CONFIG.read_text())
    with DagsterInstance.from_config(str(home)) as made:
        yield made


def _run(instance: DagsterInstance, team: str, status: DagsterRunStatus, partition: str | None = None):
    """A contact_import run of `team`, as the launcher creates one (a queued run needs its origins),
    for `partition` (an import's id) or a made-up one."""
    from pipelines.launcher import _job

    job, remote_origin, code_origin = _job()
    return instance.create_run_for_job(
        job_def=job,
        tags={"roster/team": team, "dagster/partition": partition or str(uuid.uuid4())},
        status=status,
        remote_job_origin=remote_origin,
        job_code_origin=code_origin,
    )


def _status(instance: DagsterInstance, run) -> DagsterRunStatus:
    return instance.get_run_by_id(run.run_id).status


def test_the_limits_are_the_run_coordinator_s(instance):
    config = run_queue.limits(instance)
    assert config.max_concurrent_runs == SHIPPED["max_concurrent_runs"] == 2
    assert list(config.tag_concurrency_limits) == SHIPPED["tag_concurrency_limits"]


def test_a_run_started_over_the_limits_goes_back_in_the_queue_and_none_starts_twice(instance):
    _run(instance, "a", DagsterRunStatus.STARTED)
    same_team = _run(instance, "a", DagsterRunStatus.STARTING)  # as the dequeue loop leaves it before launch_run
    assert not run_queue.admit(instance, same_team)
    assert _status(instance, same_team) == DagsterRunStatus.QUEUED  # the loop's next round starts it in its turn
    other = _run(instance, "b", DagsterRunStatus.STARTING)
    assert run_queue.admit(instance, other)
    assert not run_queue.admit(instance, other)  # a second launch of it (whoever tries) does nothing
    assert _status(instance, other) == DagsterRunStatus.STARTING
    third = _run(instance, "c", DagsterRunStatus.STARTING)  # two runs in progress already
    assert not run_queue.admit(instance, third)
    assert _status(instance, third) == DagsterRunStatus.QUEUED


def test_the_launcher_starts_a_run_only_if_no_queued_one_could_go_first(instance):
    _run(instance, "a", DagsterRunStatus.STARTED)
    new = _run(instance, "n", DagsterRunStatus.NOT_STARTED)
    assert run_queue.room_for(instance, new)
    waiting = _run(instance, "a", DagsterRunStatus.QUEUED)  # held by its team's limit: it cannot go first
    assert run_queue.room_for(instance, new)
    assert not run_queue.room_for(instance, _run(instance, "a", DagsterRunStatus.NOT_STARTED))  # its team runs
    could = _run(instance, "q", DagsterRunStatus.QUEUED)  # the loop starts it in its next round: it goes first
    assert not run_queue.room_for(instance, new)
    assert _status(instance, waiting) == _status(instance, could) == DagsterRunStatus.QUEUED


def test_starts_at_once_from_many_threads_never_exceed_the_limits(instance):
    """Twenty runs of ten teams, all STARTING at once (the loop's and the launcher's), admitted from
    twenty threads: at most max_concurrent_runs, never two of a team; the others back in the queue."""
    runs = [_run(instance, f"team{n % 10}", DagsterRunStatus.STARTING) for n in range(20)]
    admitted: list = []
    barrier = threading.Barrier(len(runs))

    def start(run) -> None:
        barrier.wait()
        if run_queue.admit(instance, run):
            admitted.append(run)

    threads = [threading.Thread(target=start, args=(run,)) for run in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 1 <= len(admitted) <= SHIPPED["max_concurrent_runs"]
    assert len({r.tags["roster/team"] for r in admitted}) == len(admitted)
    others = [r for r in runs if r not in admitted]
    assert {_status(instance, r) for r in others} == {DagsterRunStatus.QUEUED}


def test_a_run_the_daemon_could_not_start_at_once_before_its_launch_is_queued(instance, engine, team, tmp_path, monkeypatch):
    """In the daemon the coordinator starts a submitted run at once when it can
    (pipelines/run_coordinator.py); an error before the launch (counting the limits, say) leaves
    the run NOT_STARTED, so it goes to the queue rather than staying unstarted for good."""
    from pipelines import run_coordinator
    from roster.landing import LandingStore
    from schemas.import_options import ImportOptions
    from tests.helpers import create_import, write_csv

    def broken(*_args):
        raise RuntimeError("the run storage is away for a moment")

    # Built first, as outside the daemon: a coordinator built "in the daemon" would take the
    # database's daemon lock and start the launcher's threads in this test process for good.
    assert isinstance(instance.run_coordinator, run_coordinator.ImportRunCoordinator)
    monkeypatch.setattr(run_coordinator, "_in_daemon", lambda: True)
    monkeypatch.setattr(run_queue, "start_if_room", broken)
    path = write_csv(tmp_path / "a.csv", ["Email"], [["ada@example.com"]])
    import_id = create_import(engine, LandingStore(), team[1], path, "a.csv", ImportOptions(), source="api")
    run = _run(instance, team[0], DagsterRunStatus.NOT_STARTED, partition=import_id)
    instance.submit_run(run.run_id, workspace=None)
    assert _status(instance, run) == DagsterRunStatus.QUEUED
