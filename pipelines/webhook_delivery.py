"""Webhook delivery: every 5 s (the sensor daemon's own loop), the daemon sends the due events of the outbox
(roster/webhooks/delivery.py says how; roster/store/webhook_outbox.py how they are written)."""

from dagster import DefaultSensorStatus, SensorEvaluationContext, SkipReason, sensor

from resources.database import Database
from roster.webhooks.delivery import deliver_due


@sensor(
    minimum_interval_seconds=5,
    default_status=DefaultSensorStatus.RUNNING,
    description="Sends webhook events (contact.*, contact_import.*) to their endpoints, with retries.",
)
def webhook_deliveries(context: SensorEvaluationContext, database: Database) -> SkipReason:
    totals = deliver_due(database.engine())
    if totals["failed_attempts"]:
        context.log.info(f"webhooks: {totals['failed_attempts']} attempts failed (retried with backoff)")
    return SkipReason(f"delivered {totals['delivered']} webhook events, {totals['failed_attempts']} attempts failed")
