"""The webhook outbox: an event is written in the transaction that made its change, so it exists
if and only if the change committed (a rolled-back merge or write leaves no event; a crash after
the commit leaves the event for the daemon to deliver, pipelines/webhook_delivery.py).

One row of webhook_deliveries per enabled endpoint subscribed to the event, written by one
set-based INSERT ... SELECT: nothing at all when no endpoint wants it. The event's `data` is
Resend's: for contact events {id, segment_ids, created_at, updated_at, email, first_name,
last_name, unsubscribed} (first and last name left out when empty, as Resend's SDK types them
optional; Roster has no audiences, so no `audience_id`), for import events the import object.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

CONTACT_EVENTS = ("contact.created", "contact.updated", "contact.deleted")
IMPORT_EVENTS = ("contact_import.completed", "contact_import.failed")
EVENTS = CONTACT_EVENTS + IMPORT_EVENTS


def iso(column: str) -> str:
    """ISO 8601 in UTC with milliseconds, as Resend's events write times."""
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"""


def contact_data(alias: str, segment_ids: str) -> str:
    return (
        f"jsonb_strip_nulls(jsonb_build_object('id', {alias}.id::text, 'segment_ids', to_jsonb({segment_ids}), "
        f"'created_at', {iso(alias + '.created_at')}, 'updated_at', {iso(alias + '.updated_at')}, "
        f"'email', {alias}.email, 'first_name', {alias}.first_name, 'last_name', {alias}.last_name, "
        f"'unsubscribed', coalesce({alias}.unsubscribed, false)))"
    )


def _subscribed(event: str) -> str:
    return f"w.team_id = :team AND w.status = 'enabled' AND {event} = ANY(w.events)"


def contact_event(conn: Connection, team_id: int, event: str, contact_id: str | uuid.UUID) -> int:
    """contact.created / updated / deleted for one contact, as it is now in this transaction (call
    it after an insert or update, and before a delete). Returns the rows written."""
    segment_ids = "ARRAY(SELECT cs.segment_id::text FROM contact_segments cs WHERE cs.contact_id = c.id ORDER BY 1)"
    sql = f"""
        INSERT INTO webhook_deliveries (webhook_id, team_id, type, contact_id, data)
        SELECT w.id, :team, :event, c.id, {contact_data("c", segment_ids)}
        FROM webhooks w JOIN contacts c ON c.id = :contact AND c.team_id = :team
        WHERE {_subscribed(":event")}
    """
    return conn.execute(sa.text(sql), {"team": team_id, "event": event, "contact": contact_id}).rowcount


@dataclass(frozen=True)
class MergeEvents:
    """What the merge statement adds to emit per-contact events: columns for its RETURNING and a
    CTE over its results (`m`). Empty when no endpoint of the team wants them, so an import
    without such an endpoint runs exactly the statement it ran before webhooks existed."""

    returning: str = ""
    cte: str = ""
    count: str = "0"


def merge_events(conn: Connection, team_id: int) -> MergeEvents:
    """The merge's contact.created / contact.updated events, for the team's enabled endpoints that
    asked for one event per imported contact (`import_events = 'each_contact'`)."""
    wanted = conn.execute(
        sa.text(
            "SELECT EXISTS (SELECT 1 FROM webhooks w WHERE w.team_id = :team AND w.status = 'enabled' "
            "AND w.import_events = 'each_contact' AND w.events && ARRAY['contact.created', 'contact.updated'])"
        ),
        {"team": team_id},
    ).scalar()
    if not wanted:
        return MergeEvents()
    # Memberships before the statement (a data-modifying CTE does not see its siblings' writes) plus
    # the import's own segments.
    segment_ids = (
        "ARRAY(SELECT u.sid::text FROM (SELECT cs.segment_id AS sid FROM contact_segments cs "
        "WHERE cs.contact_id = m.id AND NOT m.inserted UNION SELECT s.id FROM segments s "
        "WHERE s.team_id = :team AND s.id = ANY(CAST(:segments AS uuid[]))) u ORDER BY 1)"
    )
    cte = f"""
        , webhook_events AS (
          INSERT INTO webhook_deliveries (webhook_id, team_id, type, contact_id, data)
          SELECT w.id, :team, ev.type, m.id, {contact_data("m", segment_ids)}
          FROM m CROSS JOIN LATERAL (
            SELECT CASE WHEN m.inserted THEN 'contact.created' ELSE 'contact.updated' END AS type
          ) ev
          JOIN webhooks w ON {_subscribed("ev.type")} AND w.import_events = 'each_contact'
          RETURNING 1
        )"""
    return MergeEvents(
        returning=", c.created_at, c.updated_at",  # m already has email, first_name, last_name (the merge returns them for undo)
        cte=cte,
        count="(SELECT count(*) FROM webhook_events)",
    )


def revert_events(conn: Connection, team_id: int, import_id: str) -> int:
    """A revert's per-contact events, for the endpoints that took the import's per contact
    (`each_contact`): contact.updated for each contact put back as it was, contact.deleted for each
    contact the import created and the revert deletes. Call it in the revert's transaction, after
    the contacts are restored and before the created ones are deleted."""
    segment_ids = "ARRAY(SELECT cs.segment_id::text FROM contact_segments cs WHERE cs.contact_id = c.id ORDER BY 1)"
    sql = f"""
        INSERT INTO webhook_deliveries (webhook_id, team_id, type, contact_id, data)
        SELECT w.id, :team, ev.type, c.id, {contact_data("c", segment_ids)}
        FROM import_undo u
        JOIN contacts c ON c.id = u.contact_id AND c.team_id = :team
        CROSS JOIN LATERAL (SELECT CASE WHEN u.created THEN 'contact.deleted' ELSE 'contact.updated' END AS type) ev
        JOIN webhooks w ON {_subscribed("ev.type")} AND w.import_events = 'each_contact'
        WHERE u.import_id = :import AND u.outcome IS NULL
    """
    return conn.execute(sa.text(sql), {"team": team_id, "import": import_id}).rowcount


def import_event(conn: Connection, import_id: str, error: str | None = None) -> int:
    """contact_import.completed / contact_import.failed with the import object (as GET
    /contacts/imports/{id} shows it, without Roster's `progress`), for the endpoints subscribed to
    it, whatever their `import_events`. Call it in the transaction that ends the import."""
    pg_time = "to_char({0} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS') || '+00'"
    sql = f"""
        INSERT INTO webhook_deliveries (webhook_id, team_id, type, contact_id, data)
        SELECT w.id, i.team_id, 'contact_import.' || i.status, NULL,
               jsonb_strip_nulls(jsonb_build_object(
                 'object', 'contact_import', 'id', i.id::text, 'status', i.status,
                 'created_at', {pg_time.format("i.created_at")}, 'completed_at', {pg_time.format("i.completed_at")},
                 'counts', jsonb_build_object('total', i.total, 'created', i.created, 'updated', i.updated,
                                              'skipped', i.skipped, 'failed', i.failed),
                 'error', CAST(:error AS text),
                 -- a dry run wrote nothing: said so (additive; absent for every other import)
                 'dry_run', CASE WHEN i.options @> '{{"dry_run": true}}'::jsonb THEN true END))
        FROM contact_imports i JOIN webhooks w ON w.team_id = i.team_id AND w.status = 'enabled'
             AND ('contact_import.' || i.status) = ANY(w.events)
        WHERE i.id = :import AND i.status IN ('completed', 'failed')
    """
    # The error as stored; the delivery shows it in a caller's words (roster.safety.public_errors.public_text).
    return conn.execute(sa.text(sql), {"import": import_id, "error": error}).rowcount
