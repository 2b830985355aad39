"""Dagster's run queue, with every contact_import run made a first-class import before it queues.

Runs requested by Roster's sensors and schedules carry the tags the queue's limits count
(`roster/team`, `roster/source`). A run launched from the Dagster UI's launchpad does not, so it
would escape the per-team limit. This coordinator gives such a run its tags from the import
(or from the launch config that creates one) and refuses, with a one-line reason and no import
row, a run whose partition is missing or names no import. Every contact_import run it queues is
tagged `roster/queued`: such a run starts only in its import's turn among its team's imports
(assets/import_file.py). In the daemon, a contact_import run it is handed (a retry, a sensor's
run) starts at once when the run queue's limits allow, as the launcher's runs do
(pipelines/run_queue.start_if_room); else it queues, for the dequeue loop.

In the daemon, building this coordinator (which the daemon does as it starts, before any of its
loops) takes the daemon lock: one daemon per database, a second one waits as a standby
(roster/store/daemon_lock.py). Then it starts the launcher, which starts an import's run the
moment PostgreSQL notifies that one may start (pipelines/launcher.py), the webhook sender,
which sends webhook events the moment they are written or due (roster/webhooks/sender.py), and
the watchdog, which settles imports whose run died (pipelines/watchdog.py).
"""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path
from typing import Any

from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, QueuedRunCoordinator

from pipelines.dagster_internals import SubmitRunContext
from roster.importing.launches import QUEUED_TAG, import_tags, refusal

log = logging.getLogger("roster.run_coordinator")
# Once per process: a daemon may build more than one instance (and so coordinator) from its ref;
# the first takes the lock (any other waits for it) and starts the launcher.
_once = threading.RLock()
_lock = None
_launcher = None
_webhook_sender = None
_watchdog = None


def _take_daemon_lock() -> None:
    global _lock
    with _once:
        if _lock is None:
            from roster.runtime.database import database_url
            from roster.store.daemon_lock import DaemonLock

            lock = DaemonLock(database_url())
            lock.take()
            _lock = lock


def _start_listeners(instance: DagsterInstance) -> None:
    """With the daemon lock held: only the working daemon launches, sends webhook events and
    settles dead imports."""
    global _launcher, _webhook_sender, _watchdog
    with _once:
        from roster.runtime.database import database_url

        if _launcher is None:
            from pipelines.launcher import Launcher

            _launcher = Launcher(instance, database_url()).start()
        if _webhook_sender is None:
            from roster.webhooks.sender import WebhookSender

            _webhook_sender = WebhookSender(database_url()).start()
        if _watchdog is None:
            from pipelines.watchdog import Watchdog

            _watchdog = Watchdog(instance, database_url()).start()


def _in_daemon() -> bool:
    """This process is `dagster-daemon run` (as `roster serve`, `dagster dev` and deploy/ start it)."""
    argv0 = Path(sys.argv[0])
    named = argv0.name == "dagster-daemon" or argv0.parts[-2:] == ("_daemon", "__main__.py")
    return named and sys.argv[1:2] == ["run"]


class ImportRunCoordinator(QueuedRunCoordinator):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if _in_daemon():
            # The daemon builds its run coordinator as it starts, before any of its loops (sensors,
            # run queue, monitoring, retries) runs: one daemon per database, the others stand by.
            _take_daemon_lock()

    def register_instance(self, instance: DagsterInstance) -> None:
        super().register_instance(instance)
        if _in_daemon():
            _start_listeners(instance)

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
            if _in_daemon() and run.status == DagsterRunStatus.NOT_STARTED and _started_at_once(self._instance, run):
                return self._instance.get_run_by_id(run.run_id) or run
        return super().submit_run(context)


def _started_at_once(instance: DagsterInstance, run: DagsterRun) -> bool:
    """In the daemon, a run its retries or sensors submit starts at once when the limits allow, as
    the launcher's do (pipelines/run_queue.start_if_room), instead of waiting up to the dequeue
    loop's 5 s. A launch that fails has failed the run, as in the loop, and the daemon's retries
    take it from there: it is not raised into the loop that submitted it. A run that an error
    stopped before its launch (still NOT_STARTED) is queued instead, not left unstarted."""
    from pipelines import run_queue

    try:
        return run_queue.start_if_room(instance, run)
    except Exception:
        log.exception("roster: could not start run %s at once", run.run_id)
        now = instance.get_run_by_id(run.run_id)
        return now is None or now.status != DagsterRunStatus.NOT_STARTED
