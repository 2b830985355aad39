"""Dagster's run queue, with every contact_import run made a first-class import before it queues.

Runs requested by Roster's sensors and schedules carry the tags the queue's limits count
(`roster/team`, `roster/source`). A run launched from the Dagster UI's launchpad does not, so it
would escape the per-team limit. This coordinator gives such a run its tags from the import
(or from the launch config that creates one) and refuses, with a one-line reason and no import
row, a run whose partition is missing or names no import. Every contact_import run it queues is
tagged `roster/queued`: such a run starts only in its import's turn among its team's imports
(assets/import_file.py).

In the daemon, building this coordinator (which the daemon does as it starts, before any of its
loops) takes the daemon lock: one daemon per database, a second one waits as a standby
(roster/store/daemon_lock.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

from dagster import DagsterRun, QueuedRunCoordinator

from pipelines.dagster_internals import SubmitRunContext, sensor_daemon
from roster.importing.launches import QUEUED_TAG, import_tags, refusal

# Dagster's sensor daemon looks for due sensors every 5 s, whatever their minimum interval, so an
# import created over HTTP waited 0-5 s (2.5 s on average) for the queued-imports sensor to
# notice it. Every half second instead: a sensor still runs no more often than its own minimum
# interval says (1 s for queued_imports; with a 1 s loop, a tick that started a moment after its
# loop did was "under the interval" at the next loop, which made it every 2 s). This module is
# loaded by every process that holds the instance (the daemon's run queue needs it), so it is in
# force in the daemon before its first sensor tick that matters.
SENSOR_LOOP_SECONDS = 0.5
if hasattr(sensor_daemon, "MIN_INTERVAL_LOOP_TIME"):  # tests/test_orchestration.py fails if a Dagster release drops it
    sensor_daemon.MIN_INTERVAL_LOOP_TIME = SENSOR_LOOP_SECONDS


def _in_daemon() -> bool:
    """This process is `dagster-daemon run` (as `roster serve`, `dagster dev` and deploy/ start it)."""
    argv0 = Path(sys.argv[0])
    named = argv0.name == "dagster-daemon" or argv0.parts[-2:] == ("_daemon", "__main__.py")
    return named and sys.argv[1:2] == ["run"]


class ImportRunCoordinator(QueuedRunCoordinator):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if _in_daemon():
            # The daemon builds its run coordinator as it starts, before any of its loops (sensors,
            # run queue, monitoring, retries) runs: one daemon per database, the others stand by.
            from roster.database import database_url
            from roster.store.daemon_lock import DaemonLock

            DaemonLock(database_url()).take()

    def submit_run(self, context: SubmitRunContext) -> DagsterRun:
        run = context.dagster_run
        if run.job_name == "contact_import":
            reason = refusal(run.tags.get("dagster/partition"), run.run_config)
            if reason:
                self._instance.report_run_failed(run, reason)
                return self._instance.get_run_by_id(run.run_id) or run
            missing = {k: v for k, v in import_tags(run.tags["dagster/partition"], run.run_config).items() if k not in run.tags}
            missing.update({} if QUEUED_TAG in run.tags else {QUEUED_TAG: "true"})
            if missing:
                self._instance.add_run_tags(run.run_id, missing)
                run = self._instance.get_run_by_id(run.run_id) or run
                context = SubmitRunContext(run, context.workspace)
        return super().submit_run(context)
