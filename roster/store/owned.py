"""Which of the ids a caller names the team does not own: the check before anything refers to them."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from schemas import tables as t
from schemas.rules import is_uuid


def _missing(engine: Engine, table: sa.Table, team_id: int, ids: list[str]) -> list[str]:
    wanted = [i for i in ids if is_uuid(i)]
    with engine.connect() as conn:
        found = (
            set(
                map(
                    str,
                    conn.execute(
                        sa.select(table.c.id).where(table.c.team_id == team_id, table.c.id.in_([uuid.UUID(i) for i in wanted]))
                    ).scalars(),
                )
            )
            if wanted
            else set()
        )
    return [i for i in ids if not is_uuid(i) or str(uuid.UUID(i)) not in found]


def missing_segments(engine: Engine, team_id: int, ids: list[str]) -> list[str]:
    return _missing(engine, t.segments, team_id, ids)


def missing_topics(engine: Engine, team_id: int, ids: list[str]) -> list[str]:
    return _missing(engine, t.topics, team_id, ids)
