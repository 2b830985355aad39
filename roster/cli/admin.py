"""The operator's commands: API keys, team settings, the database, and `roster serve`."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from roster.cli.common import err, fail

keys_app = typer.Typer(no_args_is_help=True, help="API keys.")
teams_app = typer.Typer(no_args_is_help=True, help="Teams and their settings.")
db_app = typer.Typer(no_args_is_help=True, help="The database.")


@keys_app.command("create")
def keys_create(
    team: Annotated[str, typer.Option("--team", help="The team the key belongs to (created if new).")],
    name: Annotated[str, typer.Option("--name", help="A name for the key.")] = "default",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create an API key for a team and print its token (shown only this once)."""
    from roster.runtime.database import get_engine
    from roster.store.keys import issue_api_key

    key = issue_api_key(get_engine(), team, name)
    if as_json:
        print(json.dumps({"id": key.id, "token": key.token}, indent=2))
    else:
        print(key.token)
        err.print(f"API key {key.id} for team {team!r}: keep the token, it is not shown again.")


@teams_app.command("model-mapping")
def teams_model_mapping(
    team: Annotated[str, typer.Argument(help="The team (created if new).")],
    setting: Annotated[
        str | None, typer.Argument(help="on, off, or default (the server's ROSTER_MAPPING_MODEL_OPT_IN); left out: show it.")
    ] = None,
) -> None:
    """May the mapping model (OPENAI_API_KEY) see this team's files' headers and sample values?"""
    from roster.mapping.consent import ENV, model_allowed, set_team_opt_in, team_opt_in
    from roster.runtime.database import get_engine
    from roster.store import teams

    values = {"on": True, "off": False, "default": None}
    if setting is not None and setting not in values:
        fail(f"the setting must be on, off or default, not {setting!r}")
    engine = get_engine()
    team_id = teams.ensure(engine, team)
    if setting is not None:
        set_team_opt_in(engine, team_id, values[setting])
    stored = team_opt_in(engine, team_id)
    said = {True: "on", False: "off", None: f"default ({ENV})"}[stored]
    print(
        f"team {team!r}: model mapping {said}: the model {'may' if model_allowed(engine, team_id) else 'may not'} "
        f"see this team's files unless an import says otherwise"
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (they also run on first use)."""
    from roster.runtime.database import get_engine
    from schemas.migrate import upgrade

    upgrade(get_engine(migrate=False))
    print("database is up to date")


def serve_command(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="The REST API's port.")] = 8000,
    ui_port: Annotated[int, typer.Option("--ui-port", help="The Dagster UI's port; 0 for no UI.")] = 3000,
) -> None:
    """Run the API, the Dagster daemon (which starts queued imports) and the Dagster UI together."""
    from roster.cli.serve import serve

    raise typer.Exit(serve(host, port, ui_port or None))
