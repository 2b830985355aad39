"""The `roster` command line: imports run here and now, and the server's tools."""
from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Roster: import millions of contacts from a CSV.")
imports_app = typer.Typer(no_args_is_help=True, help="Imports: create, inspect, export failed rows.")
db_app = typer.Typer(no_args_is_help=True, help="The database.")
teams_app = typer.Typer(no_args_is_help=True, help="Teams and their settings.")
app.add_typer(imports_app, name="imports")
app.add_typer(db_app, name="db")
app.add_typer(teams_app, name="teams")
err = Console(stderr=True)

TeamOpt = Annotated[str, typer.Option("--team", help="The team the contacts belong to (created if new).")]
ColumnMapOpt = Annotated[
    Optional[str], typer.Option("--column-map", help="JSON in the API's column_map shape, or @FILE to read it from a file.")
]
OnConflictOpt = Annotated[str, typer.Option("--on-conflict", help="upsert or skip an existing contact.")]
SegmentOpt = Annotated[Optional[list[str]], typer.Option("--segment", help="A segment id to add the contacts to (repeatable).")]
ModelMappingOpt = Annotated[Optional[bool], typer.Option(
    "--model-mapping/--no-model-mapping",
    help="Let the mapping model (OPENAI_API_KEY) see this file's headers and sample values; default: as the team, then the server, says (no).")]


def fail(message: str, code: int = 1) -> None:
    """One line on stderr, no traceback."""
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _options(column_map: str | None, on_conflict: str, segments: list[str] | None, model_mapping: bool | None = None):
    from schemas.column_map import ColumnMapError, ImportOptions, parse_column_map

    if column_map and column_map.startswith("@"):
        try:
            column_map = Path(column_map[1:]).read_text()
        except OSError as e:
            fail(f"cannot read the column map: {e}")
    if on_conflict not in ("upsert", "skip"):
        fail(f"--on-conflict must be upsert or skip, not {on_conflict!r}")
    try:
        extra = {} if model_mapping is None else {"model_mapping": model_mapping}
        return ImportOptions(column_map=parse_column_map(column_map), on_conflict=on_conflict, segments=segments or [], **extra)
    except ColumnMapError as e:
        fail(str(e))


def _create(file: Path, team: str, options, source: str, launched: bool) -> tuple[str, int]:
    from resources.landing_store import LandingStore
    from roster.database import get_engine
    from roster.imports import ImportRefused, create_import, ensure_team

    if not file.is_file():
        fail(f"no such file: {file}")
    engine = get_engine()
    team_id = ensure_team(engine, team)
    try:
        import_id = create_import(engine, LandingStore(), team_id, file, file.name, options, source=source, launched=launched)
        return import_id, team_id
    except ImportRefused as e:
        fail(f"the file was refused: {e}")


@app.command("import")
def import_(
    file: Path,
    column_map: ColumnMapOpt = None,
    on_conflict: OnConflictOpt = "upsert",
    segment: SegmentOpt = None,
    team: TeamOpt = "default",
    as_json: Annotated[bool, typer.Option("--json", help="Print the finished import as JSON.")] = False,
    model_mapping: ModelMappingOpt = None,
) -> None:
    """Import FILE now, as a run of the contact_import job, and print the finished import."""
    from roster.database import get_engine
    from roster.imports import get_import, render_import
    from roster.launch import run_import

    options = _options(column_map, on_conflict, segment, model_mapping)
    import_id, team_id = _create(file, team, options, source="cli", launched=True)
    engine = get_engine()
    tags = {"roster/team": team, "roster/source": "cli"}
    if as_json or not sys.stdout.isatty():
        run_import(import_id, tags)
    else:
        _run_with_progress(engine, team_id, import_id, tags)
    result = render_import(get_import(engine, team_id, import_id))
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        _print_import(result)
    if result["status"] != "completed":
        fail(f"the import failed: {result.get('error') or 'see the run in the Dagster UI'}")


def _run_with_progress(engine, team_id: int, import_id: str, tags: dict) -> None:
    from roster.imports import get_import
    from roster.launch import run_import

    worker = threading.Thread(target=run_import, args=(import_id, tags), daemon=True)
    worker.start()
    columns = [SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[counts]}"), TimeElapsedColumn()]
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("importing", total=None, counts="")
        while worker.is_alive():
            row = get_import(engine, team_id, import_id)
            counts = f"{row['rows_read']:,} rows read"
            if row["merged_at"]:
                counts = f"created {row['created']:,} · updated {row['updated']:,} · skipped {row['skipped']:,} · failed {row['failed']:,}"
            progress.update(task, description=row["status"].replace("_", " "), counts=counts)
            time.sleep(0.3)
    worker.join()


def _print_import(result: dict) -> None:
    from rich.table import Table

    out = Console()
    c = result["counts"]
    table = Table(title=f"import {result['id']}: {result['status']}", show_header=True)
    for name in ("total", "created", "updated", "skipped", "failed"):
        table.add_column(name, justify="right")
    table.add_row(*(f"{c[k]:,}" for k in ("total", "created", "updated", "skipped", "failed")))
    out.print(table)
    if result.get("error"):
        out.print(f"[red]{result['error']}[/red]")
    elif c["failed"]:
        out.print(f"{c['failed']} rows failed: [bold]roster imports failures {result['id']}[/bold] lists them.")


@imports_app.command("create")
def imports_create(
    file: Path,
    column_map: ColumnMapOpt = None,
    on_conflict: OnConflictOpt = "upsert",
    segment: SegmentOpt = None,
    team: TeamOpt = "default",
    queue: Annotated[bool, typer.Option("--queue", help="Leave it to the daemon's queued-imports sensor to start.")] = False,
    model_mapping: ModelMappingOpt = None,
) -> None:
    """Record an import and its partition, without running it; prints its id.

    Run it with `dagster job execute` (see the README), or with --queue let the queued-imports
    sensor of a running Dagster daemon (`roster serve`) start it.
    """
    from roster.launch import add_partition

    import_id, _ = _create(file, team, _options(column_map, on_conflict, segment, model_mapping), source="cli",
                           launched=not queue)
    add_partition(import_id)
    print(import_id)


@imports_app.command("run")
def imports_run(
    import_id: str,
    team: TeamOpt = "default",
    as_json: Annotated[bool, typer.Option("--json", help="Print the finished import as JSON.")] = False,
) -> None:
    """Run (or retry) an existing import now: a retry after a crash picks up where it is safe to."""
    from roster.database import get_engine
    from roster.imports import ensure_team, get_import, render_import
    from roster.launch import run_import

    engine = get_engine()
    team_id = ensure_team(engine, team)
    if get_import(engine, team_id, import_id) is None:
        fail(f"import {import_id} not found")
    from resources.import_lease import held_leases, is_held

    if is_held(held_leases(engine), import_id):
        fail(f"import {import_id} is running in another process; follow it with `roster imports get {import_id}`")
    run_import(import_id, {"roster/team": team, "roster/source": "cli"})
    result = render_import(get_import(engine, team_id, import_id))
    print(json.dumps(result, indent=2)) if as_json else _print_import(result)
    if result["status"] != "completed":
        fail(f"the import failed: {result.get('error') or 'see the run in the Dagster UI'}")


@imports_app.command("get")
def imports_get(import_id: str, team: TeamOpt = "default") -> None:
    """Print an import as JSON, as GET /contacts/imports/{id} shows it."""
    from roster.database import get_engine
    from roster.imports import ensure_team, get_import, render_import

    engine = get_engine()
    row = get_import(engine, ensure_team(engine, team), import_id)
    if row is None:
        fail(f"import {import_id} not found")
    print(json.dumps(render_import(row), indent=2))


@imports_app.command("failures")
def imports_failures(
    import_id: str,
    team: TeamOpt = "default",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write here instead of stdout.")] = None,
) -> None:
    """Write the failed rows as CSV: row number, email, reason, then the row's original values.

    Cells a spreadsheet would run as a formula (=, +, -, @, tab, CR first) get a leading single quote."""
    from roster import failed_rows
    from roster.database import get_engine
    from roster.imports import ensure_team, get_import

    engine = get_engine()
    team_id = ensure_team(engine, team)
    if get_import(engine, team_id, import_id) is None:
        fail(f"import {import_id} not found")
    out = output.open("w", newline="", encoding="utf-8") if output else sys.stdout
    try:
        failed_rows.write_csv(engine, import_id, team_id, out)
    finally:
        if output:
            out.close()


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="The REST API's port.")] = 8000,
    ui_port: Annotated[int, typer.Option("--ui-port", help="The Dagster UI's port; 0 for no UI.")] = 3000,
) -> None:
    """Run the API, the Dagster daemon (which starts queued imports) and the Dagster UI together."""
    from roster.serve import serve

    raise typer.Exit(serve(host, port, ui_port or None))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (they also run on first use)."""
    from roster.database import get_engine
    from schemas.migrate import upgrade

    upgrade(get_engine(migrate=False))
    print("database is up to date")


@teams_app.command("model-mapping")
def teams_model_mapping(
    team: Annotated[str, typer.Argument(help="The team (created if new).")],
    setting: Annotated[Optional[str], typer.Argument(help="on, off, or default (the server's ROSTER_MAPPING_MODEL_OPT_IN); "
                                                          "left out: show it.")] = None,
) -> None:
    """May the mapping model (OPENAI_API_KEY) see this team's files' headers and sample values?"""
    from roster.database import get_engine
    from roster.imports import ensure_team
    from roster.mapping.consent import ENV, model_allowed, set_team_opt_in, team_opt_in

    values = {"on": True, "off": False, "default": None}
    if setting is not None and setting not in values:
        fail(f"the setting must be on, off or default, not {setting!r}")
    engine = get_engine()
    team_id = ensure_team(engine, team)
    if setting is not None:
        set_team_opt_in(engine, team_id, values[setting])
    stored = team_opt_in(engine, team_id)
    said = {True: "on", False: "off", None: f"default ({ENV})"}[stored]
    print(f"team {team!r}: model mapping {said}: the model {'may' if model_allowed(engine, team_id) else 'may not'} "
          f"see this team's files unless an import says otherwise")


from roster.mapping.cli import mapping_app  # noqa: E402

app.add_typer(mapping_app, name="mapping")


def main() -> None:
    import warnings

    # Dagster's dependencies warn on import about things a CLI user cannot act on.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
    app()


# --- client commands (roster/client_cli.py) ---
from roster.client_cli import contacts_app, keys_app, mcp_command  # noqa: E402

app.add_typer(contacts_app, name="contacts")
app.add_typer(keys_app, name="keys")
app.command("mcp")(mcp_command)
