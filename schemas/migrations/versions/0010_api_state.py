"""The API's shared state: idempotency keys and rate-limit buckets, seen by every API process.

Revision ID: 0010
"""

from alembic import op

revision = "0010"
down_revision = "0003"

UPGRADE = """
-- One row per Idempotency-Key of a team, kept 24 hours (expires_at) and then deleted by the
-- API's cleanup (roster/api/http/state.py). While the first request runs, status is NULL and its
-- owner renews lease_until; a key whose owner died is taken over once the lease has passed.
CREATE TABLE idempotency_keys (
  team_id bigint NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
  -- sha256 of the header's bytes: any 1-256 character value, stored at a fixed size.
  key_hash bytea NOT NULL,
  owner uuid NOT NULL,
  lease_until timestamptz,
  -- sha256 of the first request (method, path, query, body), set when it finishes.
  fingerprint text,
  status smallint,
  headers jsonb,
  body bytea,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (team_id, key_hash)
);
CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);

-- Rate-limit buckets (GCRA): tat is the bucket's theoretical arrival time, in epoch seconds of
-- the database's clock (one clock for every API process). A row whose tat has passed is a full
-- bucket, the same as no row, so cleanup deletes it. UNLOGGED: no WAL for a write per request;
-- after a database crash the buckets start full, which costs nothing but one burst.
-- fillfactor 50 leaves room in each page for HOT updates of tat.
CREATE UNLOGGED TABLE api_rate_limits (
  bucket text PRIMARY KEY,
  tat double precision NOT NULL
) WITH (fillfactor = 50);
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute("DROP TABLE api_rate_limits; DROP TABLE idempotency_keys")
