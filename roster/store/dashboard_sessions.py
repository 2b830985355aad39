"""Dashboard sessions in PostgreSQL: a row per signed-in browser, so a session ends on the server
(sign-out, the key deleted, expiry) and every API process sees it end at once. Rows are found by
the sha256 of the session id, never by the id itself (a leaked table opens no session)."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from schemas import tables as t

ds = t.dashboard_sessions
# Expired rows deleted per sign-in: the table stays small without a janitor of its own.
SWEEP_BATCH = 100


def _hash(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


def start(engine: Engine, session_id: str, key_id: str, team_id: int, expires_at: float) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.insert(ds).values(
                id_hash=_hash(session_id),
                key_id=uuid.UUID(str(key_id)),
                team_id=team_id,
                expires_at=dt.datetime.fromtimestamp(expires_at, dt.UTC),
            )
        )
        expired = sa.select(ds.c.id_hash).where(ds.c.expires_at < sa.func.now()).limit(SWEEP_BATCH)
        conn.execute(sa.delete(ds).where(ds.c.id_hash.in_(expired.scalar_subquery())))


def owner(engine: Engine, session_id: str) -> dict[str, Any] | None:
    """{"team_id", "team_name", "key_id"} of a live session: not ended, not expired, its key still there."""
    with engine.connect() as conn:
        row = (
            conn.execute(
                sa.select(ds.c.team_id, t.teams.c.name.label("team_name"), ds.c.key_id)
                .join(t.api_keys, sa.and_(t.api_keys.c.id == ds.c.key_id, t.api_keys.c.team_id == ds.c.team_id))
                .join(t.teams, t.teams.c.id == ds.c.team_id)
                .where(ds.c.id_hash == _hash(session_id), ds.c.expires_at > sa.func.now())
            )
            .mappings()
            .first()
        )
    return {**row, "key_id": str(row["key_id"])} if row else None


def end(engine: Engine, session_id: str) -> bool:
    """Sign-out: the session is gone for every process. False when it had already ended."""
    with engine.begin() as conn:
        return conn.execute(sa.delete(ds).where(ds.c.id_hash == _hash(session_id))).rowcount > 0
