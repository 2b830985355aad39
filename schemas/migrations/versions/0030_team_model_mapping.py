"""A team's consent to send files to the mapping model (NULL: the server's setting decides).

Revision ID: 0030
"""

from alembic import op

revision = "0030"
down_revision = "0010"


def upgrade() -> None:
    op.execute("ALTER TABLE teams ADD COLUMN model_mapping boolean")


def downgrade() -> None:
    op.execute("ALTER TABLE teams DROP COLUMN model_mapping")
