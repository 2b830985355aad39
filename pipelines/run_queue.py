"""The run queue's limits, kept by whoever starts a run in the daemon: its dequeue loop or the launcher.

Two things in the daemon process start runs. Dagster's run queue loop (every
`dequeue_interval_seconds`, Dagster's default 5 s) starts QUEUED runs while the limits allow
(dagster.yaml: at most `max_concurrent_runs`, one per team). The launcher (pipelines/launcher.py)
starts an import's new run the moment PostgreSQL says its import may start, when the limits allow
it and no queued run would go first; else it queues it, for the loop. The loop counts the runs in
progress once per round, so on its own it could not see a run the launcher started meanwhile.

So every start passes `admit`, at the top of the run launcher's `launch_run`
(pipelines/run_launcher.py), under one lock for the whole process:
- the run's limits are counted again against the runs in progress (STARTING, STARTED, CANCELING;
  the run itself left out). Both paths mark a run STARTING before its launch_run, so a run that
  started a moment ago counts whoever started it. A run the loop dequeued over the limits is put
  back in the queue (as Dagster does with a run whose code server it cannot reach), untouched;
- a run admitted once in this process is never launched again.
The runs started at once (`start_if_room`: the launcher's, and in the daemon the retries and the
sensors' runs the coordinator is handed) are checked under the same lock before they are marked
STARTING (`room_for`), so they are never put back. The limits are read from the instance's run coordinator config,
as the loop reads them; with no run queue configured there are none.

`start_if_room` starts only runs just created (NOT_STARTED, never QUEUED), and the loop only
QUEUED ones: neither can start a run the other is starting.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from dagster import DagsterEvent, DagsterInstance, DagsterRun, DagsterRunStatus, QueuedRunCoordinator, RunsFilter

from pipelines.dagster_internals import ACTIVE_RUN_STATUSES, RunQueueConfig, TagConcurrencyLimitsCounter

# Whoever starts a run holds it while it counts and marks the run started (re-entrant: the
# launcher holds it around instance.launch_run, which calls the run launcher's launch_run).
LOCK = threading.RLock()
# Run ids admitted in this process, the most recent ones (a run is launched within moments of
# being admitted, and never again after it left the queue).
REMEMBERED = 10_000
_admitted: OrderedDict[str, None] = OrderedDict()


def limits(instance: DagsterInstance) -> RunQueueConfig | None:
    """The run queue's limits as the daemon's dequeue loop reads them; None without a run queue."""
    if not isinstance(instance.run_coordinator, QueuedRunCoordinator):
        return None
    return instance.get_concurrency_config().run_queue_config


def _room(config: RunQueueConfig, run: DagsterRun, others: list[DagsterRun]) -> bool:
    if config.max_concurrent_runs != -1 and len(others) >= config.max_concurrent_runs:  # -1: no limit
        return False
    return not TagConcurrencyLimitsCounter(list(config.tag_concurrency_limits), others).is_blocked(run)


def _in_progress(instance: DagsterInstance, but: str) -> list[DagsterRun]:
    records = instance.get_run_records(filters=RunsFilter(statuses=ACTIVE_RUN_STATUSES))
    return [r.dagster_run for r in records if r.dagster_run.run_id != but]


def room_for(instance: DagsterInstance, run: DagsterRun) -> bool:
    """The limits let `run` start now, and no queued run that they would let start waits before it
    (the queue's order stays Dagster's). Call with LOCK held, and mark the run STARTING before
    releasing it."""
    config = limits(instance)
    if config is None:
        return True
    others = _in_progress(instance, run.run_id)
    if not _room(config, run, others):
        return False
    queued = instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.QUEUED]))
    return not any(_room(config, q, others) for q in queued if q.run_id != run.run_id)


def start_if_room(instance: DagsterInstance, run: DagsterRun) -> bool:
    """Start `run`, just created (NOT_STARTED), at once as the dequeue loop would (STARTING, then the
    run launcher, which admits it again), when the run launcher needs no workspace for it and the
    limits let it start now (room_for). Whether it did; a False run is the caller's to queue. A
    launch that raises has failed the run (Dagster's launch_run reports the failure) and raises."""
    with LOCK:
        if not (_starts_without_workspace(instance) and room_for(instance, run)):
            return False
        # The daemon's loops have a workspace to give; this start needs none (Dagster types it as required).
        instance.launch_run(run.run_id, workspace=None)  # type: ignore[arg-type]
        return True


def _starts_without_workspace(instance: DagsterInstance) -> bool:
    """The instance's run launcher starts a contact_import run in a worker of its own, with no code
    server to find in a workspace."""
    from pipelines.run_launcher import MonitoredRunLauncher

    launcher = instance.run_launcher
    return isinstance(launcher, MonitoredRunLauncher) and launcher.forks_imports


def admit(instance: DagsterInstance, run: DagsterRun) -> bool:
    """Whether launch_run may start `run` (already STARTING): False for a run admitted before, and
    for one the limits do not let start now, which goes back in the queue."""
    with LOCK:
        if run.run_id in _admitted:
            return False
        config = limits(instance)
        if config is not None and not _room(config, run, _in_progress(instance, run.run_id)):
            _requeue(instance, run, "The run queue's limits were reached as it started: back in the queue.")
            return False
        _admitted[run.run_id] = None
        while len(_admitted) > REMEMBERED:
            _admitted.popitem(last=False)
        return True


def give_back(instance: DagsterInstance, run: DagsterRun, why: str) -> None:
    """Put an admitted run that its launch_run could not start back in the queue, for the dequeue
    loop to admit and start again (the launcher's runs have no workspace, the loop's have)."""
    with LOCK:
        _admitted.pop(run.run_id, None)
        _requeue(instance, run, why)


def _requeue(instance: DagsterInstance, run: DagsterRun, why: str) -> None:
    instance.report_engine_event(why, run)
    instance.report_dagster_event(DagsterEvent.job_enqueue(run), run_id=run.run_id)
