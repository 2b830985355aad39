"""What the dashboard reads that no other door needs: a session's key, a page of imports with
counts per status, and the team's segments and topics to pick from. Every query is the team's."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from schemas import tables as t

ci = t.contact_imports
UNFINISHED = ("queued", "in_progress")


def key_owner(engine: Engine, key_id: str) -> dict | None:
    """{"team_id", "team_name"} of an API key by its id, or None once the key is gone (a session
    signed in with a deleted key ends at its next request)."""
    try:
        key = uuid.UUID(str(key_id))
    except ValueError:
        return None
    with engine.connect() as conn:
        row = (
            conn.execute(
                sa.select(t.api_keys.c.team_id, t.teams.c.name.label("team_name"))
                .join(t.teams, t.teams.c.id == t.api_keys.c.team_id)
                .where(t.api_keys.c.id == key)
            )
            .mappings()
            .first()
        )
    return dict(row) if row else None


def imports_page(engine: Engine, team_id: int, status: str | None, offset: int, limit: int) -> list[dict]:
    """A page of the team's imports, newest first (id breaks ties so pages never overlap)."""
    query = sa.select(ci).where(ci.c.team_id == team_id)
    if status:
        query = query.where(ci.c.status == status)
    query = query.order_by(ci.c.created_at.desc(), ci.c.id.desc()).offset(offset).limit(limit)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def status_counts(engine: Engine, team_id: int) -> dict[str, int]:
    """{status: how many of the team's imports have it}."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(ci.c.status, sa.func.count()).where(ci.c.team_id == team_id).group_by(ci.c.status)).all()
    return {status: int(n) for status, n in rows}


def segments(engine: Engine, team_id: int) -> list[dict]:
    s = t.segments
    with engine.connect() as conn:
        rows = conn.execute(sa.select(s.c.id, s.c.name).where(s.c.team_id == team_id).order_by(s.c.name)).all()
    return [{"id": str(r.id), "name": r.name} for r in rows]


def create_segment(engine: Engine, team_id: int, name: str) -> str:
    s = t.segments
    with engine.begin() as conn:
        return str(conn.execute(sa.insert(s).values(team_id=team_id, name=name).returning(s.c.id)).scalar_one())


def topics(engine: Engine, team_id: int) -> list[dict]:
    tp = t.topics
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(tp.c.id, tp.c.name, tp.c.default_subscription).where(tp.c.team_id == team_id).order_by(tp.c.name)
        ).all()
    return [{"id": str(r.id), "name": r.name, "default_subscription": r.default_subscription} for r in rows]
