"""Resend's webhooks: endpoints, the outbox of their deliveries, their attempts; topics'
visibility; boolean contact properties become strings ("true"/"false"), Resend's types only.

Revision ID: 0062_webhooks
"""

from alembic import op

revision = "0062_webhooks"
down_revision = "0060_undo"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE webhooks (
          id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
          team_id bigint NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
          endpoint text NOT NULL,
          events text[] NOT NULL,
          status text NOT NULL DEFAULT 'enabled' CONSTRAINT webhooks_status CHECK (status in ('enabled', 'disabled')),
          signing_secret text NOT NULL,
          import_events text NOT NULL DEFAULT 'summary'
            CONSTRAINT webhooks_import_events CHECK (import_events in ('summary', 'each_contact')),
          disabled_reason text,
          created_at timestamptz NOT NULL DEFAULT now(),
          updated_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX webhooks_team ON webhooks (team_id, created_at)")
    # The outbox: one row per (endpoint, event), written in the transaction that made the change.
    op.execute(
        """
        CREATE TABLE webhook_deliveries (
          id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
          seq bigint GENERATED ALWAYS AS IDENTITY,
          webhook_id uuid NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
          team_id bigint NOT NULL,
          type text NOT NULL,
          contact_id uuid,
          data jsonb NOT NULL,
          status text NOT NULL DEFAULT 'pending'
            CONSTRAINT webhook_deliveries_status CHECK (status in ('pending', 'delivered', 'failed')),
          attempts integer NOT NULL DEFAULT 0,
          next_attempt_at timestamptz NOT NULL DEFAULT now(),
          last_attempt_at timestamptz,
          response_status integer,
          error text,
          delivered_at timestamptz,
          created_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    # The daemon's claim walks pending deliveries in commit order (seq), oldest first: a million
    # pending events are never sorted to find the next fifty.
    op.execute("CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (seq) WHERE status = 'pending'")
    op.execute(
        "CREATE INDEX webhook_deliveries_contact_order ON webhook_deliveries (webhook_id, contact_id, seq) "
        "WHERE status = 'pending'"
    )
    op.execute("CREATE INDEX webhook_deliveries_list ON webhook_deliveries (webhook_id, created_at, id)")
    # Every attempt at a delivery: Resend's `webhooks.list_event_attempts`.
    op.execute(
        """
        CREATE TABLE webhook_attempts (
          id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
          delivery_id uuid NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
          team_id bigint NOT NULL,
          http_status_code integer,
          response text NOT NULL,
          sent_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, sent_at, id)")
    op.execute("ALTER TABLE topics ADD COLUMN visibility text NOT NULL DEFAULT 'private'")
    op.execute("ALTER TABLE topics ADD CONSTRAINT topics_visibility CHECK (visibility in ('public', 'private'))")
    # Resend's clients know string and number properties only: a yes/no property is a string whose
    # values are "true" and "false". Values of type boolean exist only in boolean properties.
    op.execute(
        """
        UPDATE contacts c SET properties = (
          SELECT jsonb_object_agg(e.key, CASE WHEN jsonb_typeof(e.value) = 'boolean' THEN to_jsonb(e.value #>> '{}')
                                              ELSE e.value END)
          FROM jsonb_each(c.properties) e)
        WHERE c.properties @? '$.* ? (@.type() == "boolean")'
        """
    )
    op.execute(
        "UPDATE contact_properties SET type = 'string', "
        "fallback_value = CASE WHEN jsonb_typeof(fallback_value) = 'boolean' THEN to_jsonb(fallback_value #>> '{}') "
        "ELSE fallback_value END WHERE type = 'boolean'"
    )
    op.execute("ALTER TABLE contact_properties DROP CONSTRAINT contact_properties_type")
    op.execute("ALTER TABLE contact_properties ADD CONSTRAINT contact_properties_type CHECK (type in ('string', 'number'))")


def downgrade() -> None:
    op.execute("ALTER TABLE contact_properties DROP CONSTRAINT contact_properties_type")
    op.execute(
        "ALTER TABLE contact_properties ADD CONSTRAINT contact_properties_type CHECK (type in ('string', 'number', 'boolean'))"
    )
    op.execute("ALTER TABLE topics DROP COLUMN visibility")
    op.execute("DROP TABLE webhook_attempts")
    op.execute("DROP TABLE webhook_deliveries")
    op.execute("DROP TABLE webhooks")
