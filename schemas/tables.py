"""The PostgreSQL tables, as SQLAlchemy Core. Migrations (schemas/migrations) create them."""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

metadata = sa.MetaData()


def _uuid_pk() -> sa.Column[Any]:
    return sa.Column("id", UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()"))


def _created_at() -> sa.Column[Any]:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


def _team_id(foreign_key: bool = True) -> sa.Column[Any]:
    if not foreign_key:  # hot bulk-load tables: see the initial migration for why
        return sa.Column("team_id", sa.BigInteger, nullable=False)
    return sa.Column("team_id", sa.BigInteger, sa.ForeignKey("teams.id", ondelete="CASCADE"), nullable=False)


teams = sa.Table(
    "teams",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    _created_at(),
    # May the mapping model see this team's files? NULL: as the server says (roster/mapping/consent.py).
    sa.Column("model_mapping", sa.Boolean),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    _uuid_pk(),
    _team_id(),
    sa.Column("name", sa.Text, nullable=False),
    # sha256 of the token: a leaked database does not leak usable keys.
    sa.Column("token_hash", sa.Text, nullable=False, unique=True),
    sa.Column("token_prefix", sa.Text, nullable=False),
    _created_at(),
)

contacts = sa.Table(
    "contacts",
    metadata,
    _uuid_pk(),
    _team_id(foreign_key=False),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("first_name", sa.Text),
    sa.Column("last_name", sa.Text),
    # NULL means never given (it reads as false): an upsert whose row leaves it blank keeps it as is.
    sa.Column("unsubscribed", sa.Boolean, server_default=sa.false()),
    sa.Column("properties", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    _created_at(),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    # One more at every write to the contact, its memberships or topics: how an undo knows it is untouched.
    sa.Column("version", sa.BigInteger, nullable=False, server_default="1"),
)
# One contact per email per team, whatever the letter case.
sa.Index("contacts_team_email_key", contacts.c.team_id, sa.func.lower(contacts.c.email), unique=True)

contact_properties = sa.Table(
    "contact_properties",
    metadata,
    _uuid_pk(),
    _team_id(),
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("fallback_value", JSONB),
    _created_at(),
    sa.UniqueConstraint("team_id", "key"),
    # Resend's types only: a yes/no property is a string of "true"/"false" (schemas/rules.py).
    sa.CheckConstraint("type in ('string', 'number')", name="contact_properties_type"),
)

segments = sa.Table(
    "segments",
    metadata,
    _uuid_pk(),
    _team_id(),
    sa.Column("name", sa.Text, nullable=False),
    _created_at(),
)

contact_segments = sa.Table(
    "contact_segments",
    metadata,
    sa.Column("contact_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("segment_id", UUID(as_uuid=True), primary_key=True),
    _team_id(foreign_key=False),
    _created_at(),
)
sa.Index("contact_segments_segment", contact_segments.c.segment_id)

topics = sa.Table(
    "topics",
    metadata,
    _uuid_pk(),
    _team_id(),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("default_subscription", sa.Text, nullable=False, server_default="opt_in"),
    _created_at(),
    # Resend's `public` (shown on the unsubscribe page) or `private`.
    sa.Column("visibility", sa.Text, nullable=False, server_default="private"),
)

contact_topics = sa.Table(
    "contact_topics",
    metadata,
    sa.Column("contact_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("topic_id", UUID(as_uuid=True), primary_key=True),
    _team_id(foreign_key=False),
    sa.Column("subscription", sa.Text, nullable=False),
)

# The values of contact_imports.status: queued -> in_progress -> completed | failed.
ImportStatus = Literal["queued", "in_progress", "completed", "failed"]

contact_imports = sa.Table(
    "contact_imports",
    metadata,
    _uuid_pk(),
    _team_id(),
    sa.Column("status", sa.Text, nullable=False, server_default="queued"),
    sa.Column("source", sa.Text, nullable=False, server_default="api"),
    sa.Column("filename", sa.Text),
    sa.Column("file_path", sa.Text, nullable=False),
    # What was asked: column_map, on_conflict, segments, topics.
    sa.Column("options", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    # What the job found and decided: encoding, delimiter, headers, the resolved column map.
    sa.Column("file_info", JSONB),
    sa.Column("column_map", JSONB),
    sa.Column("rows_read", sa.BigInteger, nullable=False, server_default="0"),
    # Where the run is (roster/importing/progress.py): reading, staging, merging, done; NULL before it starts.
    sa.Column("phase", sa.Text),
    sa.Column("total", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("created", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("updated", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("skipped", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("failed", sa.BigInteger, nullable=False, server_default="0"),
    # Set in the transaction that merges the contacts: a retried run sees the merge is done.
    sa.Column("merged_at", sa.DateTime(timezone=True)),
    # Rows the staging transaction committed: a stage holding fewer was emptied by a crash.
    sa.Column("staged_rows", sa.BigInteger),
    # Runs that started the import (the watchdog retries a dead one up to a limit).
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    # What the merge transaction did besides the counts: memberships and subscriptions written,
    # opt-outs kept ({"segments", "topics", "kept_unsubscribed", "kept_topic_opt_outs"}).
    sa.Column("merge_details", JSONB),
    sa.Column("error", sa.Text),
    sa.Column("run_id", sa.Text),
    sa.Column("launched_at", sa.DateTime(timezone=True)),
    _created_at(),
    sa.Column("started_at", sa.DateTime(timezone=True)),
    sa.Column("completed_at", sa.DateTime(timezone=True)),
    # Cancel and undo (roster/store/cancel.py, roster/store/undo.py): when, what the revert did,
    # and whether the undo record is kept (NULL: none was recorded, 'kept', 'dropped' by retention).
    sa.Column("cancelled_at", sa.DateTime(timezone=True)),
    sa.Column("reverted_at", sa.DateTime(timezone=True)),
    sa.Column("revert_result", JSONB),
    sa.Column("undo_state", sa.Text),
    # The dry run this import was started from (POST /contacts/imports/{id}/start): at most one.
    sa.Column("dry_run_of", UUID(as_uuid=True)),
    sa.CheckConstraint("status in ('queued', 'in_progress', 'completed', 'failed')", name="contact_imports_status"),
)
sa.Index("contact_imports_team_created", contact_imports.c.team_id, contact_imports.c.created_at)
sa.Index(
    "contact_imports_dry_run_of",
    contact_imports.c.dry_run_of,
    unique=True,
    postgresql_where=contact_imports.c.dry_run_of.isnot(None),
)

contact_import_failures = sa.Table(
    "contact_import_failures",
    metadata,
    sa.Column("import_id", UUID(as_uuid=True), sa.ForeignKey("contact_imports.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("row_number", sa.BigInteger, primary_key=True),
    sa.Column("email", sa.Text),
    sa.Column("reason", sa.Text, nullable=False),
    # The row as it was in the file, header -> value, so a person can fix and re-import it.
    sa.Column("data", JSONB, nullable=False),
)

# What an import's merge changed, for its undo (schemas/migrations/versions/0060_undo_cancel_revert.py).
import_undo = sa.Table(
    "import_undo",
    metadata,
    sa.Column("import_id", UUID(as_uuid=True), nullable=False),  # no foreign key: see 0067_undo_cascade_trigger
    sa.Column("contact_id", UUID(as_uuid=True), nullable=False),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("created", sa.Boolean, nullable=False),
    sa.Column("version_after", sa.BigInteger, nullable=False),
    sa.Column("exact", sa.Boolean, nullable=False),
    sa.Column("first_name", sa.Text),
    sa.Column("last_name", sa.Text),
    sa.Column("unsubscribed", sa.Boolean),
    sa.Column("properties", JSONB),
    sa.Column("outcome", sa.Text),
)
sa.Index("import_undo_import", import_undo.c.import_id)

import_undo_segments = sa.Table(
    "import_undo_segments",
    metadata,
    sa.Column("import_id", UUID(as_uuid=True), nullable=False),  # no foreign key: see 0067_undo_cascade_trigger
    sa.Column("contact_id", UUID(as_uuid=True), nullable=False),
    sa.Column("segment_id", UUID(as_uuid=True), nullable=False),
)
sa.Index("import_undo_segments_import", import_undo_segments.c.import_id)

import_undo_topics = sa.Table(
    "import_undo_topics",
    metadata,
    sa.Column("import_id", UUID(as_uuid=True), nullable=False),  # no foreign key: see 0067_undo_cascade_trigger
    sa.Column("contact_id", UUID(as_uuid=True), nullable=False),
    sa.Column("topic_id", UUID(as_uuid=True), nullable=False),
    sa.Column("subscription_before", sa.Text),
)
sa.Index("import_undo_topics_import", import_undo_topics.c.import_id)

# The parts of a big import's merge that have committed (roster/store/merge_parts.py), until the
# import's counts are recorded from their sum (0066_merge_parts).
import_merge_parts = sa.Table(
    "import_merge_parts",
    metadata,
    sa.Column("import_id", UUID(as_uuid=True), sa.ForeignKey("contact_imports.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("part", sa.Integer, primary_key=True),
    sa.Column("parts", sa.Integer, nullable=False),
    *(
        sa.Column(name, sa.BigInteger, nullable=False)
        for name in ("created", "updated", "segments", "topics", "kept_unsubscribed", "kept_topic_opt_outs", "webhook_events")
    ),
    sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

# A column map a person accepted for a set of headers (roster/mapping/memory.py), preferred the
# next time a file with the same headers comes.
column_mappings = sa.Table(
    "column_mappings",
    metadata,
    sa.Column("team_id", sa.BigInteger, sa.ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("headers_key", sa.Text, primary_key=True),
    sa.Column("headers", JSONB, nullable=False),
    sa.Column("column_map", JSONB, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    _created_at(),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

# The API's shared state (roster/api/http/idempotency.py, roster/api/http/ratelimit.py): every API process
# sees the same idempotency keys and rate-limit buckets.
idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("team_id", sa.BigInteger, sa.ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("key_hash", sa.LargeBinary, primary_key=True),
    sa.Column("owner", UUID(as_uuid=True), nullable=False),
    sa.Column("lease_until", sa.DateTime(timezone=True)),
    sa.Column("fingerprint", sa.Text),
    sa.Column("status", sa.SmallInteger),
    sa.Column("headers", JSONB),
    sa.Column("body", sa.LargeBinary),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)
sa.Index("idempotency_keys_expires_at", idempotency_keys.c.expires_at)

# A signed-in dashboard browser (roster/dashboard/sessions.py): signing out deletes its row.
dashboard_sessions = sa.Table(
    "dashboard_sessions",
    metadata,
    sa.Column("id_hash", sa.LargeBinary, primary_key=True),  # sha256 of the session id in the cookie
    sa.Column("key_id", UUID(as_uuid=True), sa.ForeignKey("api_keys.id", ondelete="CASCADE"), nullable=False),
    sa.Column("team_id", sa.BigInteger, sa.ForeignKey("teams.id", ondelete="CASCADE"), nullable=False),
    _created_at(),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)
sa.Index("dashboard_sessions_expires_at", dashboard_sessions.c.expires_at)
sa.Index("dashboard_sessions_key_id", dashboard_sessions.c.key_id)

# UNLOGGED in the migration (SQLAlchemy Core has no word for it): see 0010_api_state.py.
api_rate_limits = sa.Table(
    "api_rate_limits",
    metadata,
    sa.Column("bucket", sa.Text, primary_key=True),
    sa.Column("tat", sa.Float(precision=53), nullable=False),
    postgresql_with={"fillfactor": 50},
)

# Uploaded files as 1 MiB chunks, with ROSTER_LANDING=postgres (roster/landing/postgres.py, roster/store/landed_files.py).
landed_files = sa.Table(
    "landed_files",
    metadata,
    sa.Column("import_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("data", sa.LargeBinary, nullable=False),
    _created_at(),
)

# Resend's webhooks (roster/store/webhooks.py): a team's endpoints, each with its Svix signing secret.
webhooks = sa.Table(
    "webhooks",
    metadata,
    _uuid_pk(),
    _team_id(),
    sa.Column("endpoint", sa.Text, nullable=False),
    sa.Column("events", ARRAY(sa.Text), nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="enabled"),
    sa.Column("signing_secret", sa.Text, nullable=False),
    # What an import sends this endpoint: `summary` (one contact_import.* event, as Resend, whose CSV
    # imports send no contact events) or `each_contact` (a contact.created/updated per contact).
    sa.Column("import_events", sa.Text, nullable=False, server_default="summary"),
    sa.Column("disabled_reason", sa.Text),
    _created_at(),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

# The outbox (roster/store/webhook_outbox.py): one row per endpoint and event, written in the
# transaction that made the change, delivered by the daemon (pipelines/webhook_delivery.py).
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    _uuid_pk(),
    # Commit order per contact (a contact's later change waits for its row lock): delivery order.
    sa.Column("seq", sa.BigInteger, sa.Identity(always=True), nullable=False),
    sa.Column("webhook_id", UUID(as_uuid=True), sa.ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    sa.Column("team_id", sa.BigInteger, nullable=False),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("contact_id", UUID(as_uuid=True)),
    sa.Column("data", JSONB, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("last_attempt_at", sa.DateTime(timezone=True)),
    sa.Column("response_status", sa.Integer),
    sa.Column("error", sa.Text),
    sa.Column("delivered_at", sa.DateTime(timezone=True)),
    _created_at(),
)

# Every attempt at a delivery, with what the endpoint answered (Resend's event attempts).
webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    _uuid_pk(),
    sa.Column("delivery_id", UUID(as_uuid=True), sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), nullable=False),
    sa.Column("team_id", sa.BigInteger, nullable=False),
    sa.Column("http_status_code", sa.Integer),
    sa.Column("response", sa.Text, nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)
