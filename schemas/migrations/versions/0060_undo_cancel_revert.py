"""Cancel and undo an import (issue 20, items 3 and 4).

- contacts.version: every write to a contact (an import's merge, each API write to it, its
  memberships or its topic subscriptions) adds one, so an undo can tell "nothing changed since the
  import" exactly, without comparing values. Added with a constant default: no table rewrite.
- contact_imports: cancelled_at, reverted_at and what the revert did (revert_result), and the
  state of the import's undo record (undo_state: NULL none kept, 'kept', 'dropped' by retention).
- import_undo*: what an import's merge changed, written in the merge's own transaction: each
  contact it created or updated with the values before (and the version it left), the memberships
  it added, the topic subscriptions it added or changed (with the one before). Indexed by import
  only (the rows of one import are written and read together; a per-contact key would cost the
  merge a random index insert per row).

Revision ID: 0060_undo
"""

from alembic import op

revision = "0060_undo"
down_revision = "0061_doors_dashboard_sessions"


def upgrade() -> None:
    op.execute("ALTER TABLE contacts ADD COLUMN version bigint NOT NULL DEFAULT 1")
    op.execute(
        "ALTER TABLE contact_imports ADD COLUMN cancelled_at timestamptz, ADD COLUMN reverted_at timestamptz,"
        " ADD COLUMN revert_result jsonb, ADD COLUMN undo_state text"
    )
    op.execute(
        "CREATE TABLE import_undo ("
        " import_id uuid NOT NULL REFERENCES contact_imports (id) ON DELETE CASCADE,"
        " contact_id uuid NOT NULL,"
        " email text NOT NULL,"
        " created boolean NOT NULL,"
        # The contact's version right after the merge: equal at revert time means untouched since.
        " version_after bigint NOT NULL,"
        # False when another write reached the contact between the merge's snapshot and its update:
        # the values before are then not known exactly, and the undo leaves the contact alone.
        " exact boolean NOT NULL,"
        " first_name text, last_name text, unsubscribed boolean, properties jsonb,"
        # Set by the revert for the contacts it left as they are: changed, deleted, kept for consent.
        " outcome text)"
    )
    op.execute("CREATE INDEX import_undo_import ON import_undo (import_id)")
    op.execute(
        "CREATE TABLE import_undo_segments ("
        " import_id uuid NOT NULL REFERENCES contact_imports (id) ON DELETE CASCADE,"
        " contact_id uuid NOT NULL, segment_id uuid NOT NULL)"
    )
    op.execute("CREATE INDEX import_undo_segments_import ON import_undo_segments (import_id)")
    op.execute(
        "CREATE TABLE import_undo_topics ("
        " import_id uuid NOT NULL REFERENCES contact_imports (id) ON DELETE CASCADE,"
        " contact_id uuid NOT NULL, topic_id uuid NOT NULL,"
        " subscription_before text)"  # NULL: the import added the subscription
    )
    op.execute("CREATE INDEX import_undo_topics_import ON import_undo_topics (import_id)")


def downgrade() -> None:
    op.execute("DROP TABLE import_undo_topics")
    op.execute("DROP TABLE import_undo_segments")
    op.execute("DROP TABLE import_undo")
    op.execute(
        "ALTER TABLE contact_imports DROP COLUMN cancelled_at, DROP COLUMN reverted_at,"
        " DROP COLUMN revert_result, DROP COLUMN undo_state"
    )
    op.execute("ALTER TABLE contacts DROP COLUMN version")
