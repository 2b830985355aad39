"""Dashboard sessions kept in PostgreSQL, so signing out ends a session on the server: a copied
cookie stops working at once, in every API process. A row per signed-in browser, by the sha256
of the session id the signed cookie carries; deleting the API key (or the team) ends its sessions.

Revision ID: 0061_doors_dashboard_sessions
"""

from alembic import op

revision = "0061_doors_dashboard_sessions"
down_revision = "0050"


def upgrade() -> None:
    op.execute(
        "CREATE TABLE dashboard_sessions ("
        " id_hash bytea PRIMARY KEY,"
        " key_id uuid NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,"
        " team_id bigint NOT NULL REFERENCES teams (id) ON DELETE CASCADE,"
        " created_at timestamptz NOT NULL DEFAULT now(),"
        " expires_at timestamptz NOT NULL)"
    )
    op.execute("CREATE INDEX dashboard_sessions_expires_at ON dashboard_sessions (expires_at)")
    op.execute("CREATE INDEX dashboard_sessions_key_id ON dashboard_sessions (key_id)")


def downgrade() -> None:
    op.execute("DROP TABLE dashboard_sessions")
