"""Every change that may let an import start notifies channel `roster_imports`: a new import
waiting to be launched, one put back in the queue, and an import that ended (its team's next one
may start now). The daemon's launcher listens and starts the run at once (pipelines/launcher.py);
nothing polls fast for it. A notification is sent when the transaction commits, and one per
transaction however many rows changed.

Revision ID: 0064_import_notify
"""

from alembic import op

revision = "0064_import_notify"
down_revision = "0063_dryrun"


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION roster_imports_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('roster_imports', '');
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER contact_imports_waiting AFTER INSERT ON contact_imports
        FOR EACH ROW WHEN (NEW.status = 'queued' AND NEW.launched_at IS NULL)
        EXECUTE FUNCTION roster_imports_notify()
        """
    )
    op.execute(
        """
        CREATE TRIGGER contact_imports_changed AFTER UPDATE OF status, launched_at ON contact_imports
        FOR EACH ROW WHEN (
            (NEW.status = 'queued' AND NEW.launched_at IS NULL
                AND (OLD.status IS DISTINCT FROM NEW.status OR OLD.launched_at IS NOT NULL))
            OR (NEW.status IN ('completed', 'failed') AND OLD.status IS DISTINCT FROM NEW.status)
        )
        EXECUTE FUNCTION roster_imports_notify()
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER contact_imports_changed ON contact_imports")
    op.execute("DROP TRIGGER contact_imports_waiting ON contact_imports")
    op.execute("DROP FUNCTION roster_imports_notify()")
