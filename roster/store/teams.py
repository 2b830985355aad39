"""Teams: the tenants every other table belongs to."""

from __future__ import annotations

from typing import cast

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Engine

from schemas import tables as t


def ensure(engine: Engine, name: str) -> int:
    """The team's id, creating the team if it is new (the CLI's --team, a drop-folder subfolder)."""
    with engine.begin() as conn:
        conn.execute(insert(t.teams).values(name=name).on_conflict_do_nothing(index_elements=["name"]))
        return cast(int, conn.execute(sa.select(t.teams.c.id).where(t.teams.c.name == name)).scalar_one())


def find(engine: Engine, name: str) -> int | None:
    """The team's id, or None: reading never creates a team."""
    with engine.connect() as conn:
        return conn.execute(sa.select(t.teams.c.id).where(t.teams.c.name == name)).scalar()


def name_of(engine: Engine, team_id: int) -> str | None:
    with engine.connect() as conn:
        return conn.execute(sa.select(t.teams.c.name).where(t.teams.c.id == team_id)).scalar()


def model_mapping(engine: Engine, team_id: int) -> bool | None:
    """May the mapping model see the team's files? None: the team has not said (see roster/mapping/consent.py)."""
    with engine.connect() as conn:
        return conn.execute(sa.select(t.teams.c.model_mapping).where(t.teams.c.id == team_id)).scalar()


def set_model_mapping(engine: Engine, team_id: int, value: bool | None) -> None:
    with engine.begin() as conn:
        conn.execute(sa.update(t.teams).where(t.teams.c.id == team_id).values(model_mapping=value))
