"""A big import's merge in parts (roster/store/merge.py, merge_in_parts): one row per part that
has committed, written in that part's own transaction, so a retry after a crash merges only the
parts not yet done. The import's counts and merged_at are written once every part is done, from
the sum of these rows, which that same transaction then deletes.

Revision ID: 0065_merge_parts
"""

from alembic import op

revision = "0066_merge_parts"
down_revision = "0065_webhook_notify"


def upgrade() -> None:
    op.execute(
        "CREATE TABLE import_merge_parts ("
        " import_id uuid NOT NULL REFERENCES contact_imports (id) ON DELETE CASCADE,"
        " part int NOT NULL,"
        # How many parts the import's stage was split into: a retry splits it the same way.
        " parts int NOT NULL,"
        " created bigint NOT NULL, updated bigint NOT NULL, segments bigint NOT NULL, topics bigint NOT NULL,"
        " kept_unsubscribed bigint NOT NULL, kept_topic_opt_outs bigint NOT NULL, webhook_events bigint NOT NULL,"
        " merged_at timestamptz NOT NULL DEFAULT now(),"
        " PRIMARY KEY (import_id, part))"
    )


def downgrade() -> None:
    op.execute("DROP TABLE import_merge_parts")
