"""`python -m pipelines.ui_server -w WORKSPACE -h HOST -p PORT`: the Dagster UI as `roster serve` runs it.

The same app on the same instance and workspace as `dagster-webserver -w WORKSPACE -h HOST -p PORT`
(dagster_webserver's own `create_app_from_workspace_process_context`, with its storage settings),
served by uvicorn with the quiet loop of the API (roster/api/quiet_server.py): uvicorn's loop, as
`dagster-webserver` runs it, woke every 0.1 s for nothing, most of the idle UI's CPU
(bench/idle_cpu.py). Nothing else changes: its pages, its GraphQL, its workspace and the code
server it watches are the webserver's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from dagster import DagsterInstance
from dagster_webserver.app import create_app_from_workspace_process_context
from dagster_webserver.cli import DEFAULT_DB_STATEMENT_TIMEOUT, DEFAULT_POOL_MAX_OVERFLOW, DEFAULT_POOL_RECYCLE
from dagster_webserver.version import __version__

from pipelines import dagster_internals
from roster.api.quiet_server import QuietServer


@contextlib.asynccontextmanager
async def _lifespan(_app: Any) -> AsyncIterator[None]:
    """As the webserver's: a stop (SIGTERM) cancels the app's lifespan, which is no error."""
    with contextlib.suppress(asyncio.CancelledError):
        yield


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="python -m pipelines.ui_server", add_help=False
    )  # -h is the host, as dagster-webserver has it
    ap.add_argument("-w", "--workspace", required=True)
    ap.add_argument("-h", "--host", default="127.0.0.1")
    ap.add_argument("-p", "--port", type=int, required=True)
    ap.add_argument("--help", action="help")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with contextlib.ExitStack() as stack:
        instance = stack.enter_context(DagsterInstance.get())
        instance.optimize_for_webserver(DEFAULT_DB_STATEMENT_TIMEOUT, DEFAULT_POOL_RECYCLE, DEFAULT_POOL_MAX_OVERFLOW)
        context = stack.enter_context(
            dagster_internals.WorkspaceProcessContext(
                instance, version=__version__, workspace_load_target=dagster_internals.WorkspaceFileTarget([args.workspace])
            )
        )
        app = create_app_from_workspace_process_context(context, "", None, lifespan=_lifespan)
        QuietServer(uvicorn.Config(app, host=args.host, port=args.port, log_level="warning")).run()


if __name__ == "__main__":
    main()
