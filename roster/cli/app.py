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
    try:
        app()
    except SystemExit as e:  # how click ends every command, failed or not
        _exit(e.code)


def _exit(code: str | int | None) -> None:
    """Leave without tearing down the interpreter: an import loads some 2,000 modules (Dagster,
    polars, SQLAlchemy), and freeing them one by one took 0.8-1.3 s after the work was done.
    What an ordinary exit does that matters still happens: threads that are not daemons are
    waited for, exit handlers run (logging flushes, temporary directories go, weakref finalizers),
    and the output is flushed. Connections left open are closed by the operating system."""
    import atexit
    import os
    import sys
    import threading

    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    if code is None:
        code = 0
    elif not isinstance(code, int):  # SystemExit("message"): printed, exit status 1, as Python does
        print(code, file=sys.stderr)
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`roster ... | head`): nothing more to say
            code = code or 1
    os._exit(code)
