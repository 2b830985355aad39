"""Webhook delivery's backstop: the daemon's webhook sender sends an event the moment PostgreSQL says
it was written, and each retry when it falls due (roster/webhooks/sender.py); this sensor, once a
minute, sends what the sender missed (a notification lost while it reconnected, a daemon without
it). roster/webhooks/delivery.py says how events are sent; roster/store/webhook_outbox.py how
they are written."""

from dagster import DefaultSensorStatus, SensorEvaluationContext, SkipReason, sensor

from resources.database import Database
from roster.webhooks.delivery import deliver_due

# Not a loop that delivers: a sensor tick costs the daemon and the code server about 0.1 s of CPU.
BACKSTOP_SECONDS = 60


@sensor(
    minimum_interval_seconds=BACKSTOP_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
    description="Sends webhook events (contact.*, contact_import.*) to their endpoints, with retries.",
)
def webhook_deliveries(context: SensorEvaluationContext, database: Database) -> SkipReason:
    totals = deliver_due(database.engine())
    if totals["failed_attempts"]:
        context.log.info(f"webhooks: {totals['failed_attempts']} attempts failed (retried with backoff)")
    return SkipReason(f"delivered {totals['delivered']} webhook events, {totals['failed_attempts']} attempts failed")
