"""The undo record's tables without foreign keys to contact_imports: a trigger deletes an
import's record with the import instead (what ON DELETE CASCADE did).

A foreign key checks every row inserted, by a query of its own on contact_imports: for the 1M rows
a 1M-row first load writes to import_undo and as many to import_undo_segments, that was about 10 s
of the merge's CPU (5.7 s for a million import_undo_segments rows against 1.7 s without the
check), more than the rows themselves cost. The check can never fail there: the merge writes the
record of the import whose row it holds locked, in the same transaction (roster/store/merge.py).

Revision ID: 0067_undo_cascade_trigger
"""

from alembic import op

revision = "0067_undo_cascade_trigger"
down_revision = "0066_merge_parts"

TABLES = ("import_undo", "import_undo_segments", "import_undo_topics")


def upgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_import_id_fkey")
    op.execute(
        """
        CREATE FUNCTION roster_import_undo_gone() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM import_undo WHERE import_id = OLD.id;
            DELETE FROM import_undo_segments WHERE import_id = OLD.id;
            DELETE FROM import_undo_topics WHERE import_id = OLD.id;
            RETURN NULL;
        END $$
        """
    )
    # Also fired by a delete that cascades from the import's team.
    op.execute(
        "CREATE TRIGGER contact_imports_undo_gone AFTER DELETE ON contact_imports "
        "FOR EACH ROW EXECUTE FUNCTION roster_import_undo_gone()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER contact_imports_undo_gone ON contact_imports")
    op.execute("DROP FUNCTION roster_import_undo_gone()")
    for table in TABLES:
        op.execute(f"DELETE FROM {table} x WHERE NOT EXISTS (SELECT 1 FROM contact_imports ci WHERE ci.id = x.import_id)")
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {table}_import_id_fkey "
            "FOREIGN KEY (import_id) REFERENCES contact_imports (id) ON DELETE CASCADE"
        )
