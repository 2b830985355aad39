"""What the dashboard reads that no other door needs: a session's key, a page of imports with
counts per status, and the team's segments and topics to pick from. Every query is the team's."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine

from schemas import tables as t

ci = t.contact_imports
UNFINISHED = ("queued", "in_progress")


def key_owner(engine: Engine, key_id: str) -> dict[str, Any] | None:
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


def imports_page(engine: Engine, team_id: int, status: str | None, offset: int, limit: int) -> list[dict[str, Any]]:
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


def segments(engine: Engine, team_id: int) -> list[dict[str, Any]]:
    s = t.segments
    with engine.connect() as conn:
        rows = conn.execute(sa.select(s.c.id, s.c.name).where(s.c.team_id == team_id).order_by(s.c.name)).all()
    return [{"id": str(r.id), "name": r.name} for r in rows]


def create_segment(engine: Engine, team_id: int, name: str) -> str:
    s = t.segments
    with engine.begin() as conn:
        return str(conn.execute(sa.insert(s).values(team_id=team_id, name=name).returning(s.c.id)).scalar_one())


def topics(engine: Engine, team_id: int) -> list[dict[str, Any]]:
    tp = t.topics
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(tp.c.id, tp.c.name, tp.c.default_subscription).where(tp.c.team_id == team_id).order_by(tp.c.name)
        ).all()
    return [{"id": str(r.id), "name": r.name, "default_subscription": r.default_subscription} for r in rows]


def last_segments_for_headers(engine: Engine, team_id: int, headers: list[str], recent: int = 200) -> list[str]:
    """The segments the team's latest import of a file with these columns (in any order) went to,
    among its `recent` latest imports: the review preselects them, as it does the column map."""
    wanted = sorted(set(headers))
    latest = (
        sa.select(ci.c.file_info, ci.c.options)
        .where(ci.c.team_id == team_id)
        .order_by(ci.c.created_at.desc())
        .limit(recent)
        .subquery()
    )
    found = sa.cast(wanted, JSONB)
    query = (
        sa.select(latest.c.options)
        .where(latest.c.file_info["headers"].op("@>")(found), found.op("@>")(latest.c.file_info["headers"]))
        .limit(1)
    )
    with engine.connect() as conn:
        options = conn.execute(query).scalar()
    live = {s["id"] for s in segments(engine, team_id)}
    return [str(s) for s in ((options or {}).get("segments") or []) if str(s) in live]


def queue_ahead(engine: Engine, team_id: int, import_id: str) -> list[dict[str, Any]]:
    """The team's unfinished imports created before this queued one, oldest first: the team's runs
    go one at a time (dagster.yaml's per-team limit), so these run before it."""
    this = sa.select(ci.c.created_at).where(ci.c.id == import_id, ci.c.team_id == team_id).scalar_subquery()
    query = (
        sa.select(ci.c.id, ci.c.filename, ci.c.status, ci.c.created_at)
        .where(ci.c.team_id == team_id, ci.c.status.in_(UNFINISHED), ci.c.id != import_id, ci.c.created_at < this)
        .order_by(ci.c.created_at, ci.c.id)
    )
    with engine.connect() as conn:
        return [dict(r, id=str(r["id"])) for r in conn.execute(query).mappings()]


def failed_so_far(engine: Engine, team_id: int, import_id: str) -> int:
    """The rows of the team's import recorded as failed so far (while its rows are read, before
    the import's own counts are written)."""
    f = t.contact_import_failures
    query = (
        sa.select(sa.func.count())
        .select_from(f)
        .where(f.c.import_id == import_id, sa.exists().where(ci.c.id == import_id, ci.c.team_id == team_id))
    )
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())
