"""Client commands of the `roster` CLI, named as Resend's CLI: `roster contacts imports create|get|list`,
built on the SDK (they talk to a Roster server over HTTP); and `roster mcp`."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast

import typer
from rich.console import Console

from roster.cli.common import StrictOpt, check_strict, err, fail, print_summary, with_import_options
from schemas.import_options import ImportOptions

if TYPE_CHECKING:  # the SDK is imported when a command runs, not when the CLI starts
    from roster.client import ColumnSuggestion, ContactImport, Created, Roster
    from schemas.tables import ImportStatus

contacts_app = typer.Typer(no_args_is_help=True, help="Contacts on a Roster server (over its REST API).")
imports_app = typer.Typer(
    no_args_is_help=True, help="Contact imports on a Roster server: create, get, list, watch, cancel, revert, column-map."
)
contacts_app.add_typer(imports_app, name="imports")

ApiKeyOpt = Annotated[
    str | None, typer.Option("--api-key", envvar="ROSTER_API_KEY", help="API key (else ROSTER_API_KEY).", show_envvar=False)
]
ApiUrlOpt = Annotated[
    str | None, typer.Option("--api-url", envvar="ROSTER_API_URL", help="Server URL (else ROSTER_API_URL).", show_envvar=False)
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
T = TypeVar("T")


def _client(api_key: str | None, api_url: str | None) -> Roster:
    from roster.client import Roster, RosterError

    try:
        return Roster(api_key=api_key, base_url=api_url)
    except RosterError as e:
        fail(e.message)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2))


def _show(imp: ContactImport) -> None:
    from rich.table import Table

    out = Console()
    c = imp.counts
    table = Table(title=f"import {imp.id}: {imp.status}")
    for name in ("total", "created", "updated", "skipped", "failed"):
        table.add_column(name, justify="right")
    table.add_row(*(f"{getattr(c, k):,}" for k in ("total", "created", "updated", "skipped", "failed")))
    out.print(table)
    print_summary(out, imp.outcome, imp.summary, imp.id)
    if imp.error and imp.outcome != "guard_tripped":
        out.print(f"[red]{imp.error}[/red]")


def _counts_text(imp: ContactImport) -> str:
    c = imp.counts
    if imp.status in ("queued",):
        return "waiting to start"
    if c.total == 0 and imp.status == "in_progress":
        return "reading the file"
    return f"created {c.created:,} · updated {c.updated:,} · skipped {c.skipped:,} · failed {c.failed:,}"


@imports_app.command("create")
@with_import_options
def imports_create(
    file: Annotated[Path, typer.Option("--file", "-f", help="The CSV to import.")],
    options: ImportOptions,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the import to finish, showing progress.")] = False,
    as_json: JsonOpt = False,
    strict: StrictOpt = False,
    api_key: ApiKeyOpt = None,
    api_url: ApiUrlOpt = None,
) -> None:
    """Upload FILE as a new contact import; prints its id (with --wait, the finished import).

    With --wait: exit 1 if the import failed, and with --strict 2 if any row failed."""
    # Checked here as the server checks them (one parser, by with_import_options), so a typo costs no upload.
    if not file.is_file():
        fail(f"no such file: {file}")
    _created_then(
        lambda client: client.contacts.imports.create(file=file, **options.stored()), wait, as_json, strict, api_key, api_url
    )


@imports_app.command("start")
def imports_start(
    import_id: str,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the import to finish, showing progress.")] = False,
    as_json: JsonOpt = False,
    strict: StrictOpt = False,
    api_key: ApiKeyOpt = None,
    api_url: ApiUrlOpt = None,
) -> None:
    """Start a completed dry run for real: a new import of its file; prints its id.

    The same options and the column map the dry run decided; with --wait, the finished import."""
    _created_then(lambda client: client.contacts.imports.start(import_id), wait, as_json, strict, api_key, api_url)


def _created_then(
    create: Callable[[Roster], Created], wait: bool, as_json: bool, strict: bool, api_key: str | None, api_url: str | None
) -> None:
    """Create an import (`create(client)`), print its id, or wait for it and print it."""
    from roster.client import RosterError

    client = _client(api_key, api_url)
    try:
        created = create(client)
        if not wait:
            if as_json:
                _print_json({"object": "contact_import", "id": created.id})
            else:
                print(created.id)
            return
        if as_json or not sys.stderr.isatty():
            result = client.contacts.imports.wait(created.id, poll_interval=0.3)
        else:
            result = _wait_with_progress(client, created.id)
    except RosterError as e:
        fail(e.message if e.status_code == 0 else f"{e.status_code} {e.name}: {e.message}")
    finally:
        client.close()
    if as_json:
        _print_json(result.raw)
    else:
        _show(result)
    if result.status != "completed":
        fail(f"the import failed: {result.error or 'see the server'}")
    check_strict(strict, result.counts.failed, result.summary)


def _wait_with_progress(client: Roster, import_id: str) -> ContactImport:
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = [
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[counts]}"),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("queued", total=None, counts="")

        def update(imp: ContactImport) -> None:
            progress.update(task, description=imp.status.replace("_", " "), counts=_counts_text(imp))

        return client.contacts.imports.wait(import_id, on_progress=update, poll_interval=0.3)


@imports_app.command("get")
def imports_get(import_id: str, as_json: JsonOpt = False, api_key: ApiKeyOpt = None, api_url: ApiUrlOpt = None) -> None:
    """Show an import."""
    from roster.client import RosterError

    client = _client(api_key, api_url)
    try:
        imp = client.contacts.imports.get(import_id)
    except RosterError as e:
        fail(f"{e.status_code} {e.name}: {e.message}" if e.status_code else e.message)
    finally:
        client.close()
    if as_json:
        _print_json(imp.raw)
    else:
        _show(imp)


@imports_app.command("list")
def imports_list(
    status: Annotated[str | None, typer.Option("--status", help="queued, in_progress, completed or failed.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="1-100 (default 10).")] = None,
    after: Annotated[str | None, typer.Option("--after", help="An import id: the page after it (older).")] = None,
    before: Annotated[str | None, typer.Option("--before", help="An import id: the page before it (newer).")] = None,
    as_json: JsonOpt = False,
    api_key: ApiKeyOpt = None,
    api_url: ApiUrlOpt = None,
) -> None:
    """List imports, newest first."""
    from rich.table import Table

    from roster.client import RosterError

    if after and before:
        fail("--after and --before cannot be used together")
    client = _client(api_key, api_url)
    try:
        # Any word is sent on: the server refuses one that is not a status (a 422 that names it).
        page = client.contacts.imports.list(limit=limit, after=after, before=before, status=cast("ImportStatus | None", status))
    except RosterError as e:
        fail(f"{e.status_code} {e.name}: {e.message}" if e.status_code else e.message)
    finally:
        client.close()
    if as_json:
        _print_json({"object": "list", "has_more": page.has_more, "data": [i.raw for i in page.data]})
        return
    table = Table()
    table.add_column("id", no_wrap=True, min_width=36)
    table.add_column("status", no_wrap=True)
    table.add_column("outcome", no_wrap=True)
    table.add_column("created_at")
    for col in ("total", "created", "updated", "skipped", "failed"):
        table.add_column(col, justify="right")
    for i in page.data:
        c = i.counts
        table.add_row(
            i.id,
            i.status,
            i.outcome or "",
            i.created_at,
            *(f"{getattr(c, k):,}" for k in ("total", "created", "updated", "skipped", "failed")),
        )
    Console().print(table)
    if page.has_more:
        Console().print(f"more: --after {page.data[-1].id}")


def _call(api_key: str | None, api_url: str | None, do: Callable[[Roster], T]) -> T:
    """do(client) with the API's errors as a one-line failure."""
    from roster.client import RosterError

    client = _client(api_key, api_url)
    try:
        return do(client)
    except RosterError as e:
        fail(f"{e.status_code} {e.name}: {e.message}" if e.status_code else e.message)
    finally:
        client.close()


def _ended(imp: ContactImport, as_json: bool) -> None:
    from roster.importing.render import end_state

    if as_json:
        _print_json(imp.raw)
    else:
        _show(imp)
        print(end_state(imp.raw))


@imports_app.command("cancel")
def imports_cancel(import_id: str, as_json: JsonOpt = False, api_key: ApiKeyOpt = None, api_url: ApiUrlOpt = None) -> None:
    """Cancel a queued or running import: it ends failed, with nothing written (too late once its
    contacts are written: revert it then)."""
    _ended(_call(api_key, api_url, lambda c: c.contacts.imports.cancel(import_id)), as_json)


@imports_app.command("revert")
def imports_revert(
    import_id: str,
    resubscribe: Annotated[
        bool, typer.Option("--resubscribe", help="Also reverse the unsubscribes and topic opt-outs the import applied.")
    ] = False,
    conflicts: Annotated[Path | None, typer.Option("--conflicts", help="Write the contacts left as they are (CSV) here.")] = None,
    as_json: JsonOpt = False,
    api_key: ApiKeyOpt = None,
    api_url: ApiUrlOpt = None,
) -> None:
    """Undo a completed import (contacts changed since are left as they are, and listed)."""
    from roster.importing.undoing import left_unchanged_csv

    def do(client: Roster) -> ContactImport:
        imp = client.contacts.imports.revert(import_id, resubscribe=resubscribe)
        if conflicts is not None:
            conflicts.write_text(left_unchanged_csv(client.contacts.imports.revert_conflicts(import_id)), "utf-8")
        return imp

    _ended(_call(api_key, api_url, do), as_json)


@imports_app.command("watch")
def imports_watch(
    import_id: str,
    as_json: JsonOpt = False,
    timeout: Annotated[float | None, typer.Option("--timeout", help="Give up after this many seconds.")] = None,
    api_key: ApiKeyOpt = None,
    api_url: ApiUrlOpt = None,
) -> None:
    """Follow an import until it ends (completed, failed, cancelled, reverted); exits 0 only when
    it completed (and was not reverted)."""
    if as_json or not sys.stderr.isatty():
        imp = _call(api_key, api_url, lambda c: c.contacts.imports.wait(import_id, poll_interval=0.5, timeout=timeout))
    else:
        imp = _call(api_key, api_url, lambda c: _wait_with_progress(c, import_id))
    _ended(imp, as_json)
    if imp.status != "completed" or imp.reverted:
        raise typer.Exit(1)


def _target_text(s: ColumnSuggestion) -> str:
    if s.target == "property":
        return f"property {s.property_key} ({s.property_type}{', new' if s.is_new_property else ''})"
    if s.target == "unsubscribed" and s.invert:
        return "unsubscribed (inverted)"
    return s.target


@imports_app.command("column-map")
def imports_column_map(
    file: Annotated[Path, typer.Option("--file", "-f", help="The CSV (only its first 4 MB are sent).")],
    existing_properties: Annotated[
        str | None,
        typer.Option(
            "--existing-properties", help='JSON [{"key", "type"}], or @FILE: map onto these instead of the team\'s properties.'
        ),
    ] = None,
    model_mapping: Annotated[
        bool | None,
        typer.Option(
            "--model-mapping/--no-model-mapping",
            help="Let the server's mapping model see the file (default: as the team or server says).",
        ),
    ] = None,
    as_json: JsonOpt = False,
    api_key: ApiKeyOpt = None,
    api_url: ApiUrlOpt = None,
) -> None:
    """Suggest where each column of FILE goes; use the column map with `create --column-map`."""
    from rich.table import Table

    from roster.client import RosterError

    props = None
    if existing_properties:
        text = existing_properties
        if text.startswith("@"):
            try:
                text = Path(text[1:]).read_text()
            except OSError as e:
                fail(f"cannot read the properties: {e}")
        try:
            props = json.loads(text)
        except json.JSONDecodeError as e:
            fail(f"--existing-properties is not valid JSON: {e.msg}")
        if not isinstance(props, list):
            fail('--existing-properties must be a JSON array of {"key": ..., "type": ...}')
    if not file.is_file():
        fail(f"no such file: {file}")
    client = _client(api_key, api_url)
    try:
        result = client.contacts.imports.suggest_column_map(file=file, existing_properties=props, model_mapping=model_mapping)
    except RosterError as e:
        fail(e.message if e.status_code == 0 else f"{e.status_code} {e.name}: {e.message}")
    finally:
        client.close()
    if as_json:
        _print_json({k: result.raw[k] for k in ("object", "column_map", "suggestions") if k in result.raw})
        return
    out = Console()
    table = Table(title=f"column map for {file.name}")
    table.add_column("column", no_wrap=True)
    table.add_column("target")
    table.add_column("confidence", justify="right")
    table.add_column("engine")
    table.add_column("reason")
    for sug in result.suggestions:
        style = "dim" if sug.target == "ignore" else ("yellow" if sug.confidence < 0.5 else None)
        table.add_row(sug.column, _target_text(sug), f"{sug.confidence:.2f}", sug.engine, sug.reason, style=style)
    out.print(table)
    for note in result.notes:
        out.print(f"note: {note}", highlight=False)
    out.print("column map (for `roster contacts imports create --column-map`):")
    out.print_json(json.dumps(result.column_map))


def mcp_command(
    http: Annotated[int | None, typer.Option("--http", help="Serve streamable HTTP on this port instead of stdio.")] = None,
    host: Annotated[str, typer.Option("--host", help="With --http: the address to listen on.")] = "127.0.0.1",
) -> None:
    """Run the MCP server (stdio by default); it talks to the REST API at ROSTER_API_URL with ROSTER_API_KEY."""
    from roster.mcp_server.server import run

    run(http_port=http, host=host)
