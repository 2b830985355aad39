"""`roster`: every command, put together."""

from __future__ import annotations

import typer

from roster.cli.admin import db_app, keys_app, serve_command, teams_app
from roster.cli.client import contacts_app, mcp_command
from roster.cli.imports import import_command, imports_app
from roster.cli.mapping import mapping_app

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Roster: import millions of contacts from a CSV.")
app.command("import")(import_command)
app.add_typer(imports_app, name="imports")
app.add_typer(contacts_app, name="contacts")
app.add_typer(mapping_app, name="mapping")
app.add_typer(keys_app, name="keys")
app.add_typer(teams_app, name="teams")
app.add_typer(db_app, name="db")
app.command("serve")(serve_command)
app.command("mcp")(mcp_command)


def main() -> None:
    import warnings

    # Dagster's dependencies warn on import about things a CLI user cannot act on.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
    app()
