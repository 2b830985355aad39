"""Stopping the runs of cancelled imports (issue 20): every 15 s, the daemon asks each
unfinished run of an import cancelled in the last hour to stop (a queued run is dropped from the
queue, a running one terminated). Only to free workers sooner: the cancel is exact without it,
because the merge writes nothing once it sees the cancel (roster/store/cancel.py), and a run
stops at its next step or batch anyway. The API does not import Dagster, so this is the daemon's.
"""

from dagster import DefaultSensorStatus, SensorEvaluationContext, SkipReason, sensor

from pipelines.sensors import UNFINISHED, partition_runs
from resources.database import Database
from roster.store import cancel

RECENT_SECONDS = 3600


@sensor(
    minimum_interval_seconds=15,
    default_status=DefaultSensorStatus.RUNNING,
    description="Stops the runs of imports cancelled in the last hour (best effort: the cancel is exact without it).",
)
def cancelled_imports(context: SensorEvaluationContext, database: Database) -> SkipReason:
    stopped = 0
    for import_id in cancel.recently_cancelled(database.engine(), RECENT_SECONDS):
        for run in partition_runs(context.instance, import_id, UNFINISHED):
            try:
                context.instance.run_coordinator.cancel_run(run.run_id)
                stopped += 1
            except Exception as e:  # the run stops by itself at its next step
                context.log.warning(f"could not stop run {run.run_id} of cancelled import {import_id}: {e}")
    return SkipReason(f"asked {stopped} runs of cancelled imports to stop")
