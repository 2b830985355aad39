"""An import started from a dry run (POST /contacts/imports/{id}/start) names it; a dry run starts once.

Revision ID: 0063_dryrun
"""

from alembic import op

revision = "0063_dryrun"
down_revision = "0062_webhooks"


def upgrade() -> None:
    op.execute("ALTER TABLE contact_imports ADD COLUMN dry_run_of uuid")
    op.execute("CREATE UNIQUE INDEX contact_imports_dry_run_of ON contact_imports (dry_run_of) WHERE dry_run_of IS NOT NULL")


def downgrade() -> None:
    op.execute("DROP INDEX contact_imports_dry_run_of")
    op.execute("ALTER TABLE contact_imports DROP COLUMN dry_run_of")
