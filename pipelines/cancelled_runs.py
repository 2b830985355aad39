"""Stopping the runs of cancelled imports (issue 20): each unfinished run of an import cancelled in
the last hour is asked to stop (a queued run is dropped from the queue, a running one terminated).
Only to free workers sooner: the cancel is exact without it, because the merge writes nothing once
it sees the cancel (roster/store/cancel.py), and a run stops at its next step or batch anyway. The
API does not import Dagster, so this is the daemon's: its launcher does it the moment PostgreSQL
says an import ended (a cancel ends it `failed`: pipelines/launcher.py), and this sensor, once a
minute, does it for what the launcher missed.
"""

from __future__ import annotations

import logging

from dagster import DagsterInstance, DefaultSensorStatus, SensorEvaluationContext, SkipReason, sensor
from sqlalchemy.engine import Engine

from pipelines.sensors import UNFINISHED, partition_runs
from resources.database import Database
from roster.store import cancel

RECENT_SECONDS = 3600
BACKSTOP_SECONDS = 60


def stop_cancelled_runs(
    instance: DagsterInstance, engine: Engine, log: logging.Logger | logging.LoggerAdapter[logging.Logger]
) -> int:
    """Ask every unfinished run of a recently cancelled import to stop; how many were asked."""
    stopped = 0
    for import_id in cancel.recently_cancelled(engine, RECENT_SECONDS):
        for run in partition_runs(instance, import_id, UNFINISHED):
            try:
                instance.run_coordinator.cancel_run(run.run_id)
                stopped += 1
            except Exception as e:  # the run stops by itself at its next step
                log.warning(f"could not stop run {run.run_id} of cancelled import {import_id}: {e}")
    return stopped


@sensor(
    minimum_interval_seconds=BACKSTOP_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
    description="Stops the runs of imports cancelled in the last hour (best effort: the cancel is exact without it).",
)
def cancelled_imports(context: SensorEvaluationContext, database: Database) -> SkipReason:
    stopped = stop_cancelled_runs(context.instance, database.engine(), context.log)
    return SkipReason(f"asked {stopped} runs of cancelled imports to stop")
