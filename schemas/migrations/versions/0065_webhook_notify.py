"""Every change that makes a webhook delivery due notifies channel `roster_webhooks`: events
written to the outbox, a delivery replayed (put back to pending), an endpoint enabled again. The
daemon's webhook sender listens and sends at once (roster/webhooks/sender.py); nothing polls
fast for it. A retry's next attempt is not notified: the sender sleeps until it is due. A
notification is sent when the transaction commits, one per transaction however many rows changed
(PostgreSQL folds identical notifications), and none for a statement that wrote no delivery (an
import's merge with no subscribed endpoint).

Revision ID: 0065_webhook_notify
"""

from alembic import op

revision = "0065_webhook_notify"
down_revision = "0064_import_notify"


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION roster_webhooks_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('roster_webhooks', '');
            RETURN NULL;
        END $$
        """
    )
    # Per statement: a merge writes thousands of events in one INSERT (one look at the new rows,
    # not a trigger call per row).
    op.execute(
        """
        CREATE FUNCTION roster_webhooks_notify_if_written() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM written) THEN
                PERFORM pg_notify('roster_webhooks', '');
            END IF;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER webhook_deliveries_written AFTER INSERT ON webhook_deliveries
        REFERENCING NEW TABLE AS written
        FOR EACH STATEMENT EXECUTE FUNCTION roster_webhooks_notify_if_written()
        """
    )
    op.execute(
        """
        CREATE TRIGGER webhook_deliveries_pending_again AFTER UPDATE OF status ON webhook_deliveries
        FOR EACH ROW WHEN (NEW.status = 'pending' AND OLD.status IS DISTINCT FROM 'pending')
        EXECUTE FUNCTION roster_webhooks_notify()
        """
    )
    op.execute(
        """
        CREATE TRIGGER webhooks_enabled AFTER UPDATE OF status ON webhooks
        FOR EACH ROW WHEN (NEW.status = 'enabled' AND OLD.status IS DISTINCT FROM 'enabled')
        EXECUTE FUNCTION roster_webhooks_notify()
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER webhooks_enabled ON webhooks")
    op.execute("DROP TRIGGER webhook_deliveries_pending_again ON webhook_deliveries")
    op.execute("DROP TRIGGER webhook_deliveries_written ON webhook_deliveries")
    op.execute("DROP FUNCTION roster_webhooks_notify_if_written()")
    op.execute("DROP FUNCTION roster_webhooks_notify()")
