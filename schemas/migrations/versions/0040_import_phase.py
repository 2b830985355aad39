"""Which phase an import's run is in (reading, staging, merging, done), for its progress.

Revision ID: 0040
"""

from alembic import op

revision = "0040"
down_revision = "0030"


def upgrade() -> None:
    op.execute("ALTER TABLE contact_imports ADD COLUMN phase text")


def downgrade() -> None:
    op.execute("ALTER TABLE contact_imports DROP COLUMN phase")
