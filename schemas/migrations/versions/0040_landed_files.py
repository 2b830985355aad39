"""The landing store in PostgreSQL: uploaded files as 1 MiB chunks, for workers on other machines.

Used only with ROSTER_LANDING=postgres (roster/landing/postgres.py); the default keeps files in a local
folder and leaves this table empty. STORAGE EXTERNAL: chunks are stored uncompressed, so writing
and reading a file costs no compression CPU (the rows are deleted when the import ends).

Revision ID: 0040
"""

from alembic import op

revision = "0040"
down_revision = "0030"


def upgrade() -> None:
    op.execute(
        "CREATE TABLE landed_files ("
        " import_id uuid NOT NULL,"
        " seq integer NOT NULL,"
        " data bytea NOT NULL,"
        " created_at timestamptz NOT NULL DEFAULT now(),"
        " PRIMARY KEY (import_id, seq))"
    )
    op.execute("ALTER TABLE landed_files ALTER COLUMN data SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.execute("DROP TABLE landed_files")
