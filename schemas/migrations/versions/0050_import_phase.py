"""Which phase an import's run is in (reading, staging, merging, done), for its progress.

Revision ID: 0050
"""

from alembic import op

revision = "0050"
down_revision = "0040"


def upgrade() -> None:
    op.execute("ALTER TABLE contact_imports ADD COLUMN phase text")


def downgrade() -> None:
    op.execute("ALTER TABLE contact_imports DROP COLUMN phase")
