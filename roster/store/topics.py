"""Topics and each contact's subscription to them (contact_topics): what a team's contacts opted in
to or out of. A contact with no row for a topic has the topic's default_subscription."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection, Engine

from roster.store import contacts
from roster.store.pages import AnySelect, Listing
from schemas import tables as t

tp, ct = t.topics, t.contact_topics


def _get(conn: Connection, team_id: int, topic_id: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(tp).where(tp.c.id == topic_id, tp.c.team_id == team_id)).mappings().first()
    return dict(row) if row else None


def get(engine: Engine, team_id: int, topic_id: str) -> dict[str, Any] | None:
    """The topic's row, or None. `topic_id` must be a UUID."""
    with engine.connect() as conn:
        return _get(conn, team_id, topic_id)


def exists(engine: Engine, team_id: int, topic_id: str) -> bool:
    with engine.connect() as conn:
        return conn.execute(sa.select(tp.c.id).where(tp.c.id == topic_id, tp.c.team_id == team_id)).first() is not None


def missing(engine: Engine, team_id: int, topic_ids: list[str]) -> list[str]:
    """The ids (lower-case UUIDs, as the database writes them) that are none of the team's topics, in order."""
    with engine.connect() as conn:
        known = {
            str(r) for r in conn.execute(sa.select(tp.c.id).where(tp.c.team_id == team_id, tp.c.id.in_(topic_ids))).scalars()
        }
    return [tid for tid in topic_ids if tid not in known]


def create(
    engine: Engine, team_id: int, name: str, description: str | None, default_subscription: str, visibility: str = "private"
) -> str:
    """The new topic's id."""
    with engine.begin() as conn:
        new_id = conn.execute(
            sa.insert(tp)
            .values(
                team_id=team_id,
                name=name,
                description=description,
                default_subscription=default_subscription,
                visibility=visibility,
            )
            .returning(tp.c.id)
        ).scalar_one()
    return str(new_id)


def _cursor(team_id: int, topic_id: str) -> AnySelect:
    return sa.select(tp.c.created_at).where(tp.c.id == topic_id, tp.c.team_id == team_id)


def listing(team_id: int) -> Listing:
    return Listing(sa.select(tp).where(tp.c.team_id == team_id), tp.c.created_at, tp.c.id, lambda tid: _cursor(team_id, tid))


def update(engine: Engine, team_id: int, topic_id: str, values: dict[str, Any]) -> bool:
    """Set `values` (name, description, visibility) on the topic. False: the team has no such topic."""
    with engine.begin() as conn:
        if _get(conn, team_id, topic_id) is None:
            return False
        if values:
            conn.execute(sa.update(tp).where(tp.c.id == topic_id, tp.c.team_id == team_id).values(**values))
    return True


def delete(engine: Engine, team_id: int, topic_id: str) -> bool:
    """The topic and its subscriptions, together. False: the team has no such topic."""
    with engine.begin() as conn:
        if _get(conn, team_id, topic_id) is None:
            return False
        conn.execute(sa.delete(ct).where(ct.c.topic_id == topic_id, ct.c.team_id == team_id))
        conn.execute(sa.delete(tp).where(tp.c.id == topic_id, tp.c.team_id == team_id))
    return True


def of_contact(team_id: int, contact_id: str | uuid.UUID) -> Listing:
    """Every topic of the team, with the contact's `subscription`: its own, else the topic's default."""
    mine = sa.select(ct.c.topic_id, ct.c.subscription).where(ct.c.contact_id == contact_id, ct.c.team_id == team_id).subquery()
    query = (
        sa.select(
            tp.c.id,
            tp.c.name,
            tp.c.description,
            tp.c.created_at,
            sa.func.coalesce(mine.c.subscription, tp.c.default_subscription).label("subscription"),
        )
        .select_from(tp.outerjoin(mine, mine.c.topic_id == tp.c.id))
        .where(tp.c.team_id == team_id)
    )
    return Listing(query, tp.c.created_at, tp.c.id, lambda tid: _cursor(team_id, tid))


def subscribe(engine: Engine, team_id: int, contact_id: str | uuid.UUID, subscriptions: dict[str, str]) -> None:
    """Set the contact's subscription ({topic id: "opt_in" | "opt_out"}) to each topic named; the
    others are left as they are."""
    stmt = insert(ct).values(
        [
            {"contact_id": contact_id, "topic_id": tid, "team_id": team_id, "subscription": sub}
            for tid, sub in sorted(subscriptions.items())
        ]
    )
    with engine.begin() as conn:
        contacts.touch(conn, team_id, contact_id)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["contact_id", "topic_id"], set_={"subscription": stmt.excluded.subscription}
            )
        )
