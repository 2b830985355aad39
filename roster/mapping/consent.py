"""Whether the mapping model may see a file: its headers and sample values (or their shapes) leave
the server only with someone's consent.

The caller decides first (an import's or a suggestion's `model_mapping`), then the team
(`roster teams model-mapping TEAM on|off`, stored in teams.model_mapping), then the server
(`ROSTER_MAPPING_MODEL_OPT_IN=1` opts in every team that has not said otherwise). Nobody said: no.
The model also needs OPENAI_API_KEY, and `ROSTER_MAPPING_ENGINE=offline` still wins."""

from __future__ import annotations

import os

import sqlalchemy as sa
from sqlalchemy.engine import Engine

ENV = "ROSTER_MAPPING_MODEL_OPT_IN"


def server_opt_in() -> bool:
    return os.environ.get(ENV, "").strip().lower() in ("1", "true", "yes", "on")


def team_opt_in(engine: Engine, team_id: int) -> bool | None:
    from schemas.tables import teams

    with engine.connect() as conn:
        return conn.execute(sa.select(teams.c.model_mapping).where(teams.c.id == team_id)).scalar()


def model_allowed(engine: Engine | None, team_id: int | None, requested: bool | None = None) -> bool:
    if requested is not None:
        return requested
    if engine is not None and team_id is not None:
        team = team_opt_in(engine, team_id)
        if team is not None:
            return team
    return server_opt_in()


def set_team_opt_in(engine: Engine, team_id: int, value: bool | None) -> None:
    from schemas.tables import teams

    with engine.begin() as conn:
        conn.execute(sa.update(teams).where(teams.c.id == team_id).values(model_mapping=value))
