"""The launcher: a queued import's run is submitted the moment PostgreSQL says there is one.

Every change that may let an import start notifies the channel `roster_imports` (a trigger on
`contact_imports`, migration 0064): an import created to wait in the queue (the REST API, the
dashboard, `roster imports create --queue`), one put back in the queue (the watchdog, a run that
gave its turn back), and an import that ended (its team's next one may start now). In the
daemon, a thread of this module listens on that channel, idle in between (no polling), and when
told does what the queued-imports sensor does on its tick (pipelines/sensors.claim_launches): it
claims each team's oldest unfinished import and creates its contact_import run; and it asks the
runs of an import just cancelled to stop (pipelines/cancelled_runs.py). The run starts at once when
the run queue's limits allow it and no queued run would go first (pipelines/run_queue.py): the
launcher does what the daemon's dequeue loop would do with it (marks it STARTING and hands it to
the run launcher), without waiting for that loop's next round. Else it is submitted to the run
queue, as every other run, and the loop starts it in its turn. The sensors stay, as slow backstops,
for what the launcher missed (a notification lost while it reconnects after a database restart, a
daemon that was down); the claim makes one of them, never both, start an import.

A run created here is the run the sensor would have created: the same job, partition, tags and
code location (pipelines/dagster_internals.job_origins), so the daemon's run retries, run
monitoring, the warm worker and the UI treat it as any other.
"""

from __future__ import annotations

import functools
import logging

from dagster import DagsterInstance, DagsterRunStatus, JobDefinition
from sqlalchemy.engine import Engine

from assets.partitions import contact_imports
from pipelines import run_queue
from pipelines.cancelled_runs import stop_cancelled_runs
from pipelines.dagster_internals import JobPythonOrigin, RemoteJobOrigin
from pipelines.jobs import contact_import_job
from pipelines.sensors import Launch, claim_launches
from roster.importing.launches import QUEUED_TAG
from roster.runtime.listener import Listener

CHANNEL = "roster_imports"
# Launched by the launcher, not by the sensor: shown in the UI beside the sensor's runs.
LAUNCHER_TAG = "roster/launcher"
log = logging.getLogger("roster.launcher")


@functools.cache
def _job() -> tuple[JobDefinition, RemoteJobOrigin, JobPythonOrigin]:
    """The contact_import job and its origins, loaded once in this process (the daemon)."""
    from pipelines.dagster_internals import job_origins
    from pipelines.definitions import defs

    job = defs.resolve_job_def(contact_import_job.name)
    return (job, *job_origins(defs, job.name))


def submit(instance: DagsterInstance, launch: Launch) -> str:
    """Create the import's run and submit it to the run queue. Returns the run's id."""
    job, remote_origin, code_origin = _job()
    import_id = launch["id"]
    instance.add_dynamic_partitions(contact_imports.name or "contact_imports", [import_id])
    tags = {
        **job.run_tags,
        "dagster/partition": import_id,
        "roster/team": launch["team"],
        "roster/source": launch["source"],
        # Under the run queue's limits whichever way it starts, as the coordinator tags what it queues.
        QUEUED_TAG: "true",
        LAUNCHER_TAG: f"{import_id}:{launch['launch']}",
    }
    run = instance.create_run_for_job(
        job_def=job,
        run_config={},
        tags=tags,
        status=DagsterRunStatus.NOT_STARTED,
        remote_job_origin=remote_origin,
        job_code_origin=code_origin,
    )
    try:
        if not run_queue.start_if_room(instance, run):
            # The queued coordinator reads no workspace (Dagster types the argument as required).
            instance.submit_run(run.run_id, workspace=None)  # type: ignore[arg-type]
    except BaseException:
        # Not left NOT_STARTED (an unfinished run would hold the import back for good): failed, so
        # the sensor launches the import again once its claim goes stale.
        now = instance.get_run_by_id(run.run_id) or run
        if not now.is_finished:
            instance.report_run_failed(now, "the launcher could not start or queue this run")
        raise
    return run.run_id


def launch_due(instance: DagsterInstance, engine: Engine) -> list[str]:
    """Submit a run for every import whose turn it is; the ids of the runs submitted. Also stops the
    runs of imports just cancelled (a cancel ends an import, which notifies this channel too)."""
    try:
        stop_cancelled_runs(instance, engine, log)
    except Exception:  # only frees a worker sooner; the cancelled_imports sensor tries again
        log.exception("roster launcher: could not stop the runs of cancelled imports")
    submitted = []
    for launch in claim_launches(instance, engine):
        try:
            submitted.append(submit(instance, launch))
        except Exception:  # its claim goes stale and the sensor launches it (roster/store/imports.claim_queued)
            log.exception("roster launcher: could not submit a run for import %s", launch["id"])
    return submitted


class Launcher(Listener):
    """The thread that listens and launches (roster/runtime/listener.py); started once, in the daemon,
    with the daemon lock held."""

    channel = CHANNEL
    name = "roster launcher"

    def __init__(self, instance: DagsterInstance, url: str):
        self._instance = instance
        super().__init__(url)

    def work(self, engine: Engine) -> None:
        launch_due(self._instance, engine)
