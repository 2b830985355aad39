"""`roster import FILE` (an import here and now) and `roster imports create|run|get|failures`, on
this machine's database (DATABASE_URL or the embedded server), through the import service."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from roster.cli.common import StrictOpt, check_strict, err, fail, print_summary, with_import_options
from roster.runtime import collector
from schemas.import_options import ImportOptions

if TYPE_CHECKING:  # the import service is imported when a command runs, not when the CLI starts
    from roster.importing.service import ImportService
    from schemas.import_object import ContactImportObject

imports_app = typer.Typer(
    no_args_is_help=True, help="Imports on this machine's database: create, run, inspect, export failed rows."
)
TeamOpt = Annotated[str, typer.Option("--team", help="The team the contacts belong to.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the finished import as JSON.")]


def _service() -> ImportService:
    from roster.importing.service import ImportService
    from roster.runtime.database import get_engine

    return ImportService(get_engine())


def _team(service: ImportService, team: str, create: bool = False) -> int:
    team_id = service.team(team, create=create)
    if team_id is None:
        fail(f"there is no team {team!r}")
    return team_id


def _create(file: Path, team: str, options: ImportOptions, launched: bool) -> tuple[str, int]:
    from roster.importing.errors import ImportRefused

    if not file.is_file():
        fail(f"no such file: {file}")
    service = _service()
    team_id = _team(service, team, create=True)  # importing into a new team creates it
    try:
        return service.create(team_id, file, file.name, options, "cli", launched=launched), team_id
    except ImportRefused as e:
        fail(f"the file was refused: {e}")


@with_import_options
def import_command(
    file: Path,
    options: ImportOptions,
    team: Annotated[str, typer.Option("--team", help="The team the contacts belong to (created if new).")] = "default",
    as_json: JsonOpt = False,
    strict: StrictOpt = False,
) -> None:
    """Import FILE now, as a run of the contact_import job, and print the finished import.

    Exits 1 when the import failed, and with --strict 2 when any row failed."""
    collector.pause()  # until the run starts: roster/runtime/collector.py says why
    import_id, team_id = _create(file, team, options, launched=True)
    _run(import_id, team_id, team, as_json, strict)


def _run(import_id: str, team_id: int, team: str, as_json: bool, strict: bool = False) -> None:
    from pipelines.launch import run_import

    service = _service()
    tags = {"roster/team": team, "roster/source": "cli"}
    if as_json or not sys.stdout.isatty():
        run_import(import_id, tags)
    else:
        _run_with_progress(service, team_id, import_id, tags)
    result = service.get(team_id, import_id)
    assert result is not None  # created above, and imports are not deleted while they run
    print(json.dumps(result, indent=2)) if as_json else _print_import(result)
    if result["status"] != "completed":
        fail(f"the import failed: {result.get('error') or 'see the run in the Dagster UI'}")
    check_strict(strict, result["counts"]["failed"], result.get("summary"))


def _run_with_progress(service: ImportService, team_id: int, import_id: str, tags: dict[str, str]) -> None:
    from pipelines.launch import run_import

    worker = threading.Thread(target=run_import, args=(import_id, tags), daemon=True)
    worker.start()
    columns = [
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[counts]}"),
        TimeElapsedColumn(),
    ]
    from roster.importing.progress import describe

    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("importing", total=None, counts="")
        while worker.is_alive():
            row = service.row(team_id, import_id)
            assert row is not None  # created before it ran, and imports are not deleted while they run
            phase, doing = describe(row)
            progress.update(task, description=phase, counts=doing)
            time.sleep(0.3)
    worker.join()


def _print_import(result: ContactImportObject) -> None:
    from rich.table import Table

    out = Console()
    c = result["counts"]
    table = Table(title=f"import {result['id']}: {result['status']}", show_header=True)
    for name in ("total", "created", "updated", "skipped", "failed"):
        table.add_column(name, justify="right")
    table.add_row(*(f"{c[k]:,}" for k in ("total", "created", "updated", "skipped", "failed")))
    out.print(table)
    print_summary(out, result.get("outcome"), result.get("summary"), result["id"])
    if result.get("error") and result.get("outcome") != "guard_tripped":
        out.print(f"[red]{result['error']}[/red]")
    if c["failed"]:
        out.print(f"{c['failed']} rows failed: [bold]roster imports failures {result['id']}[/bold] lists them.")


@imports_app.command("create")
@with_import_options
def imports_create(
    file: Path,
    options: ImportOptions,
    team: Annotated[str, typer.Option("--team", help="The team the contacts belong to (created if new).")] = "default",
    queue: Annotated[bool, typer.Option("--queue", help="Leave it to the daemon's queued-imports sensor to start.")] = False,
) -> None:
    """Record an import and its partition, without running it; prints its id.

    Run it with `dagster job execute` (see the README), or with --queue let the queued-imports
    sensor of a running Dagster daemon (`roster serve`) start it.
    """
    from pipelines.launch import add_partition

    import_id, _ = _create(file, team, options, launched=not queue)
    add_partition(import_id)
    print(import_id)


@imports_app.command("run")
def imports_run(import_id: str, team: TeamOpt = "default", as_json: JsonOpt = False) -> None:
    """Run (or retry) an existing import now: a retry after a crash picks up where it is safe to."""
    collector.pause()  # until the run starts: roster/runtime/collector.py says why
    from roster.store.leases import held_leases, is_held

    service = _service()
    team_id = _team(service, team)
    if service.row(team_id, import_id) is None:
        fail(f"import {import_id} not found")
    if is_held(held_leases(service.engine), import_id):
        fail(f"import {import_id} is running in another process; follow it with `roster imports get {import_id}`")
    _run(import_id, team_id, team, as_json)


@imports_app.command("start")
def imports_start(import_id: str, team: TeamOpt = "default", as_json: JsonOpt = False, strict: StrictOpt = False) -> None:
    """Start a completed dry run for real, now, and print the finished import.

    A new import of the dry run's file, with its options and the column map it decided."""
    collector.pause()  # until the run starts: roster/runtime/collector.py says why
    from roster.importing.service import CannotStart

    service = _service()
    team_id = _team(service, team)
    try:
        new_id = service.start_dry_run(team_id, import_id, "cli", launched=True)
    except CannotStart as e:
        fail(str(e))
    _run(new_id, team_id, team, as_json, strict)


@imports_app.command("get")
def imports_get(import_id: str, team: TeamOpt = "default") -> None:
    """Print an import as JSON, as GET /contacts/imports/{id} shows it."""
    service = _service()
    result = service.get(_team(service, team), import_id)
    if result is None:
        fail(f"import {import_id} not found")
    print(json.dumps(result, indent=2))


@imports_app.command("failures")
def imports_failures(
    import_id: str,
    team: TeamOpt = "default",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")] = None,
) -> None:
    """Write the failed rows as CSV: the row's original columns, then roster_error (row number and reason).

    Fix them and import the file again: it maps as the original did. Cells a spreadsheet would run
    as a formula (=, @, tab, CR first; + or - first unless a number follows) get a leading single quote."""
    service = _service()
    team_id = _team(service, team)
    if service.row(team_id, import_id) is None:
        fail(f"import {import_id} not found")
    out = output.open("w", newline="", encoding="utf-8") if output else sys.stdout
    try:
        for chunk in service.failures_csv(team_id, import_id):
            out.write(chunk)
    finally:
        if output:
            out.close()


@imports_app.command("cancel")
def imports_cancel(import_id: str, team: TeamOpt = "default", as_json: JsonOpt = False) -> None:
    """Cancel a queued or running import: it ends failed, with nothing written. Too late once its
    contacts are written: revert it then."""
    from roster.importing import undoing
    from roster.importing.render import end_state, render_import

    service = _service()
    team_id = _team(service, team)
    try:
        row = undoing.cancel(service.engine, team_id, import_id)
    except LookupError:
        fail(f"import {import_id} not found")
    except undoing.CancelRefused as e:
        fail(str(e).replace("POST /contacts/imports/{id}/revert", f"roster imports revert {import_id}"))
    result = render_import(row)
    print(json.dumps(result, indent=2)) if as_json else print(end_state(result))


@imports_app.command("revert")
def imports_revert(
    import_id: str,
    team: TeamOpt = "default",
    resubscribe: Annotated[
        bool, typer.Option("--resubscribe", help="Also reverse the unsubscribes and topic opt-outs the import applied.")
    ] = False,
    conflicts: Annotated[Path | None, typer.Option("--conflicts", help="Write the contacts left as they are (CSV) here.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Undo a completed import: contacts it created deleted, values it overwrote put back, unless
    changed since (those are left and listed). One transaction; repeating it changes nothing."""
    from roster.importing import undoing
    from roster.importing.render import end_state, render_import

    service = _service()
    team_id = _team(service, team)
    try:
        row = undoing.revert(service.engine, team_id, import_id, resubscribe)
    except LookupError:
        fail(f"import {import_id} not found")
    except undoing.RevertRefused as e:
        fail(str(e))
    result = render_import(row)
    if conflicts is not None:
        conflicts.write_text(undoing.left_unchanged_csv(undoing.left_unchanged(service.engine, team_id, import_id)), "utf-8")
    print(json.dumps(result, indent=2)) if as_json else print(end_state(result))


@imports_app.command("watch")
def imports_watch(
    import_id: str,
    team: TeamOpt = "default",
    as_json: JsonOpt = False,
    timeout: Annotated[float | None, typer.Option("--timeout", help="Give up after this many seconds.")] = None,
) -> None:
    """Follow an import until it ends (completed, failed, cancelled, reverted); exits 0 only when
    it completed (and was not reverted)."""
    from roster.importing.progress import describe
    from roster.importing.render import end_state, render_import

    service = _service()
    team_id = _team(service, team)
    deadline = None if timeout is None else time.monotonic() + timeout
    shown = ""
    while True:
        row = service.row(team_id, import_id)
        if row is None:
            fail(f"import {import_id} not found")
        result = render_import(row)
        ended = end_state(result)
        if ended is not None:
            break
        if deadline is not None and time.monotonic() > deadline:
            fail(f"import {import_id} is still {result['status']} after {timeout:g} s")
        line = " ".join(describe(row)).rstrip()
        if not as_json and line != shown:
            err.print(line)
            shown = line
        time.sleep(0.5)
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        _print_import(result)
        print(ended)
    if result["status"] != "completed" or result.get("reverted_at"):
        raise typer.Exit(1)
