"""Segments and who is in them (contact_segments): a team's named groups of contacts."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection, Engine

from roster.store import contacts
from roster.store.pages import AnySelect, Listing
from schemas import tables as t

s, cs = t.segments, t.contact_segments


def _get(conn: Connection, team_id: int, segment_id: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(s).where(s.c.id == segment_id, s.c.team_id == team_id)).mappings().first()
    return dict(row) if row else None


def get(engine: Engine, team_id: int, segment_id: str) -> dict[str, Any] | None:
    """The segment's row, or None. `segment_id` must be a UUID."""
    with engine.connect() as conn:
        return _get(conn, team_id, segment_id)


def exists(engine: Engine, team_id: int, segment_id: str) -> bool:
    with engine.connect() as conn:
        return conn.execute(sa.select(s.c.id).where(s.c.id == segment_id, s.c.team_id == team_id)).first() is not None


def create(engine: Engine, team_id: int, name: str) -> str:
    """The new segment's id."""
    with engine.begin() as conn:
        return str(conn.execute(sa.insert(s).values(team_id=team_id, name=name).returning(s.c.id)).scalar_one())


def listing(team_id: int) -> Listing:
    return Listing(sa.select(s).where(s.c.team_id == team_id), s.c.created_at, s.c.id, lambda sid: _cursor(team_id, sid))


def _cursor(team_id: int, segment_id: str) -> AnySelect:
    return sa.select(s.c.created_at).where(s.c.id == segment_id, s.c.team_id == team_id)


def rename(engine: Engine, team_id: int, segment_id: str, name: str) -> bool:
    """False: the team has no such segment."""
    with engine.begin() as conn:
        if _get(conn, team_id, segment_id) is None:
            return False
        conn.execute(sa.update(s).where(s.c.id == segment_id, s.c.team_id == team_id).values(name=name))
    return True


def delete(engine: Engine, team_id: int, segment_id: str) -> bool:
    """The segment and its memberships, together. False: the team has no such segment."""
    with engine.begin() as conn:
        if _get(conn, team_id, segment_id) is None:
            return False
        conn.execute(sa.delete(cs).where(cs.c.segment_id == segment_id, cs.c.team_id == team_id))
        conn.execute(sa.delete(s).where(s.c.id == segment_id, s.c.team_id == team_id))
    return True


def of_contact(team_id: int, contact_id: str | uuid.UUID) -> Listing:
    """The segments a contact is in."""
    query = sa.select(s).where(
        s.c.team_id == team_id,
        s.c.id.in_(sa.select(cs.c.segment_id).where(cs.c.contact_id == contact_id, cs.c.team_id == team_id)),
    )
    return Listing(query, s.c.created_at, s.c.id, lambda sid: _cursor(team_id, sid))


def add_contact(engine: Engine, team_id: int, contact_id: str | uuid.UUID, segment_id: str) -> None:
    """Safe to repeat."""
    with engine.begin() as conn:
        contacts.touch(conn, team_id, contact_id)
        conn.execute(insert(cs).values(contact_id=contact_id, segment_id=segment_id, team_id=team_id).on_conflict_do_nothing())


def remove_contact(engine: Engine, team_id: int, contact_id: str | uuid.UUID, segment_id: str) -> bool:
    """False: the contact was not in the segment."""
    with engine.begin() as conn:
        contacts.touch(conn, team_id, contact_id)  # first: the contact's row lock before the membership's
        removed = conn.execute(
            sa.delete(cs).where(cs.c.contact_id == contact_id, cs.c.segment_id == segment_id, cs.c.team_id == team_id)
        ).rowcount
        return bool(removed)


def has_contact(engine: Engine, team_id: int, contact_id: str | uuid.UUID, segment_id: str) -> bool:
    with engine.connect() as conn:
        return (
            conn.execute(
                sa.select(cs.c.contact_id).where(
                    cs.c.contact_id == contact_id, cs.c.segment_id == segment_id, cs.c.team_id == team_id
                )
            ).first()
            is not None
        )
