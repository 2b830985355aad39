"""Remembered column mappings: the map a person accepted for a set of headers, per team.

Revision ID: 0002
"""

from alembic import op

revision = "0002"
down_revision = "0001"

UPGRADE = """
CREATE TABLE column_mappings (
  team_id bigint NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
  -- sha256 of the sorted, distinct headers: the same columns in any order are the same file shape.
  headers_key text NOT NULL,
  headers jsonb NOT NULL,
  column_map jsonb NOT NULL,
  -- Where it was accepted: "import" (an import ran with an explicit map) or "review".
  source text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (team_id, headers_key)
);
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute("DROP TABLE column_mappings")
