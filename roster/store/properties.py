"""Contact properties: a team's keys and their types."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Engine

from schemas import tables as t

p = t.contact_properties


def types(engine: Engine, team_id: int) -> dict[str, str]:
    """{key: type} of the team's properties."""
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(p.c.key, p.c.type).where(p.c.team_id == team_id)).all())


def create_missing(engine: Engine, team_id: int, wanted: dict[str, str]) -> list[str]:
    """Create the keys the team lacks, typed; returns those created. Safe to repeat."""
    if not wanted:
        return []
    with engine.begin() as conn:
        created = (
            conn.execute(
                insert(p)
                .values([{"team_id": team_id, "key": k, "type": v} for k, v in sorted(wanted.items())])
                .on_conflict_do_nothing(index_elements=["team_id", "key"])
                .returning(p.c.key)
            )
            .scalars()
            .all()
        )
    return sorted(created)
