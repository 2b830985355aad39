"""Whether the mapping model may see a file: its headers and sample values (or their shapes) leave
the server only with someone's consent.

The caller decides first (an import's or a suggestion's `model_mapping`), then the team
(`roster teams model-mapping TEAM on|off`, stored in teams.model_mapping), then the server
(`ROSTER_MAPPING_MODEL_OPT_IN=1` opts in every team that has not said otherwise). Nobody said: no.
The model also needs OPENAI_API_KEY, and `ROSTER_MAPPING_ENGINE=offline` still wins."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from roster.runtime.settings import get_settings
from roster.store import teams

ENV = "ROSTER_MAPPING_MODEL_OPT_IN"


def server_opt_in() -> bool:
    return get_settings().mapping_model_opt_in


def team_opt_in(engine: Engine, team_id: int) -> bool | None:
    """What the team said (teams.model_mapping); None: nothing."""
    return teams.model_mapping(engine, team_id)


def model_allowed(engine: Engine | None, team_id: int | None, requested: bool | None = None) -> bool:
    if requested is not None:
        return requested
    if engine is not None and team_id is not None:
        team = team_opt_in(engine, team_id)
        if team is not None:
            return team
    return server_opt_in()


def set_team_opt_in(engine: Engine, team_id: int, value: bool | None) -> None:
    """None: the team says nothing, the server decides."""
    teams.set_model_mapping(engine, team_id, value)
