"""Contacts: a team's people, found by id or by email.

By email means as the unique index (team_id, lower(email)) compares them: PostgreSQL's lower() on
both sides (Python's str.lower() differs from it, e.g. for a final sigma), so whatever the index
calls one contact, a lookup finds."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, insert
from sqlalchemy.engine import Connection, Engine

from roster.store import webhook_outbox
from roster.store.pages import Listing
from schemas import tables as t
from schemas.rules import is_uuid

c, cs, ct = t.contacts, t.contact_segments, t.contact_topics


def where(team_id: int, id_or_email: str) -> sa.ColumnElement[bool]:
    """The team's contact with this id (a UUID) or, else, this email."""
    if is_uuid(id_or_email):
        return sa.and_(c.c.team_id == team_id, c.c.id == id_or_email)
    email = sa.literal(id_or_email.strip(), type_=sa.Text)
    return sa.and_(c.c.team_id == team_id, sa.func.lower(c.c.email) == sa.func.lower(email))


def get(engine: Engine, team_id: int, id_or_email: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(c).where(where(team_id, id_or_email))).mappings().first()
    return dict(row) if row else None


def create(
    engine: Engine,
    team_id: int,
    email: str,
    first_name: str | None,
    last_name: str | None,
    unsubscribed: bool,
    properties: dict[str, Any],
    segment_ids: list[str],
    topics: list[tuple[str, str]],
) -> str | None:
    """The new contact, in its segments and with its topic subscriptions ([(topic id, "opt_in" |
    "opt_out")]), all or nothing. Returns its id; None if the team has a contact with this email."""
    with engine.begin() as conn:
        new_id = conn.execute(
            insert(c)
            .values(
                team_id=team_id,
                email=email,
                first_name=first_name,
                last_name=last_name,
                unsubscribed=unsubscribed,
                properties=properties,
            )
            .on_conflict_do_nothing()
            .returning(c.c.id)
        ).scalar()
        if new_id is None:
            return None
        for segment_id in segment_ids:
            conn.execute(insert(cs).values(contact_id=new_id, segment_id=segment_id, team_id=team_id).on_conflict_do_nothing())
        for topic_id, subscription in topics:
            conn.execute(
                insert(ct)
                .values(contact_id=new_id, topic_id=topic_id, team_id=team_id, subscription=subscription)
                .on_conflict_do_nothing()
            )
        webhook_outbox.contact_event(conn, team_id, "contact.created", new_id)
    return str(new_id)


def listing(team_id: int, segment_id: str | None = None) -> Listing:
    """The team's contacts (those in the segment, when given)."""
    query = sa.select(c).where(c.c.team_id == team_id)
    if segment_id is not None:
        query = query.where(c.c.id.in_(sa.select(cs.c.contact_id).where(cs.c.segment_id == segment_id, cs.c.team_id == team_id)))
    return Listing(
        query, c.c.created_at, c.c.id, lambda cid: sa.select(c.c.created_at).where(c.c.id == cid, c.c.team_id == team_id)
    )


def update(
    engine: Engine,
    team_id: int,
    id_or_email: str,
    fields: dict[str, Any],
    set_properties: dict[str, Any],
    removed_properties: list[str],
) -> str | None:
    """Set `fields` (first_name, last_name, unsubscribed) and merge the properties in one UPDATE
    (`properties || set - removed`), never from a dict read earlier: an import merging the same
    contact at the same time ends before or after this write, in full, whichever takes the row lock
    first. Returns the contact's id; None if the team has no such contact."""
    values = dict(fields)
    if set_properties or removed_properties:
        merged: sa.ColumnElement[Any] = c.c.properties
        if set_properties:
            merged = merged.op("||", return_type=JSONB)(sa.bindparam("set_properties", set_properties, type_=JSONB))
        if removed_properties:
            merged = merged.op("-", return_type=JSONB)(
                sa.bindparam("removed_properties", removed_properties, type_=ARRAY(sa.Text))
            )
        values["properties"] = merged
    with engine.begin() as conn:
        if values:
            contact_id = conn.execute(
                sa.update(c)
                .where(where(team_id, id_or_email))
                .values(**values, updated_at=sa.func.now(), version=c.c.version + 1)
                .returning(c.c.id)
            ).scalar()
            if contact_id is not None:  # a change: contact.updated, committed with it or not at all
                webhook_outbox.contact_event(conn, team_id, "contact.updated", contact_id)
        else:
            contact_id = conn.execute(sa.select(c.c.id).where(where(team_id, id_or_email))).scalar()
    return None if contact_id is None else str(contact_id)


def touch(conn: Connection, team_id: int, contact_id: str | uuid.UUID) -> None:
    """One more version: its memberships or topics are changing in this transaction, so an
    import's undo leaves it alone (roster/store/undo.py). First, so the contact's row lock comes
    before the membership rows', as in the merge."""
    conn.execute(sa.update(c).where(c.c.id == contact_id, c.c.team_id == team_id).values(version=c.c.version + 1))


def delete(engine: Engine, team_id: int, id_or_email: str) -> str | None:
    """The contact, its segment memberships and topic subscriptions, together. Returns its id; None
    if the team has no such contact."""
    with engine.begin() as conn:
        # Locked: a merge or PATCH of this contact commits its events before this one's (delivery order).
        row = conn.execute(sa.select(c).where(where(team_id, id_or_email)).with_for_update()).mappings().first()
        if row is None:
            return None
        cid = row["id"]
        webhook_outbox.contact_event(conn, team_id, "contact.deleted", cid)
        # contact_segments and contact_topics have no foreign keys (bulk-load speed): clean up here.
        conn.execute(sa.delete(cs).where(cs.c.contact_id == cid, cs.c.team_id == team_id))
        conn.execute(sa.delete(ct).where(ct.c.contact_id == cid, ct.c.team_id == team_id))
        conn.execute(sa.delete(c).where(c.c.id == cid, c.c.team_id == team_id))
    return str(cid)
