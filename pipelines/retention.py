"""The landing sweep: hourly, the daemon deletes uploaded files Roster no longer keeps, and the
undo records of imports past ROSTER_UNDO_RETENTION_DAYS (roster/importing/retention.py says
which, and for how long)."""

from dagster import DefaultSensorStatus, SensorEvaluationContext, SkipReason, sensor

from resources.database import Database
from resources.landing_store import Landing
from roster.importing.retention import sweep_undo, sweep_uploads


@sensor(
    minimum_interval_seconds=3600,
    default_status=DefaultSensorStatus.RUNNING,
    description="Deletes uploads of ended imports (completed at once, failed after ROSTER_KEEP_UPLOADS_HOURS), "
    "and undo records after ROSTER_UNDO_RETENTION_DAYS.",
)
def landing_sweep(context: SensorEvaluationContext, database: Database, landing: Landing) -> SkipReason:
    result = sweep_uploads(database.engine(), landing.store())
    dropped = sweep_undo(database.engine())
    if dropped:
        context.log.info(f"dropped the undo records of {len(dropped)} imports past ROSTER_UNDO_RETENTION_DAYS")
    if result["removed"]:
        context.log.info(f"removed the uploads of {len(result['removed'])} ended imports")
    return SkipReason(
        f"removed {len(result['removed'])} uploads and {result['incoming']} stale spooled uploads; "
        f"dropped {len(dropped)} undo records"
    )
