"""Crash safety: what an import needs to resume from durable state after any crash.

- staged_rows: how many rows the staging transaction committed. The stage is an UNLOGGED table,
  which PostgreSQL empties in crash recovery; a stage holding fewer rows than this was lost and
  is rebuilt from the file, never merged as if it were "no rows".
- attempts: how many runs started the import; the watchdog retries a dead run up to a limit.
- merge_details: what the merge transaction did besides the counts: segment memberships and topic
  subscriptions written (they commit with the contacts, so a retry never has to find which
  contacts an import touched), and opt-outs it kept (an import never resubscribes on its own).

Revision ID: 0003
"""

from alembic import op

revision = "0003"
down_revision = "0002"

UPGRADE = """
ALTER TABLE contact_imports
  ADD COLUMN staged_rows bigint,
  ADD COLUMN attempts integer NOT NULL DEFAULT 0,
  ADD COLUMN merge_details jsonb;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute("ALTER TABLE contact_imports DROP COLUMN staged_rows, DROP COLUMN attempts, DROP COLUMN merge_details")
