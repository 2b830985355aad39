"""`python -m pipelines.ui_server -w WORKSPACE -h HOST -p PORT`: the Dagster UI as `roster serve` runs it.

The same app on the same instance and workspace as `dagster-webserver -w WORKSPACE -h HOST -p PORT`
(dagster_webserver's own `create_app_from_workspace_process_context`, with its storage settings),
served by uvicorn with the quiet loop of the API (roster/api/quiet_server.py): uvicorn's loop, as
`dagster-webserver` runs it, woke every 0.1 s for nothing, most of the idle UI's CPU
(bench/idle_cpu.py). Nothing else changes: its pages, its GraphQL, its workspace and the code
server it watches are the webserver's.

The workspace is loaded at the UI's first request, not at start: a loaded workspace asks the code
server every second whether it changed (Dagster's server watcher, which has no setting), CPU
that a `roster serve` nobody opens the UI of would spend for nothing. The first page takes the
second or so of loading the workspace; every later one is the webserver's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn
from dagster import DagsterInstance
from dagster_webserver.app import create_app_from_workspace_process_context
from dagster_webserver.cli import DEFAULT_DB_STATEMENT_TIMEOUT, DEFAULT_POOL_MAX_OVERFLOW, DEFAULT_POOL_RECYCLE
from dagster_webserver.version import __version__

from pipelines import dagster_internals
from roster.api.quiet_server import QuietServer

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class LoadedOnFirstRequest:
    """An ASGI app that builds the real one (`build`, blocking: run in a thread) when its first
    request comes, then hands every request to it. It answers the server's lifespan itself: the
    webserver's app has nothing to start or stop, and never sees the lifespan."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self._app: Any = None
        self._building = threading.Lock()

    def _get(self) -> Any:
        with self._building:  # requests that come while it loads wait for the one app
            if self._app is None:
                self._app = self._build()
            return self._app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            # As the webserver's own lifespan: a stop (SIGTERM) that cancels it is no error.
            with contextlib.suppress(asyncio.CancelledError):
                while (await receive())["type"] != "lifespan.shutdown":  # the other message: startup
                    await send({"type": "lifespan.startup.complete"})
                await send({"type": "lifespan.shutdown.complete"})
            return
        app = self._app or await asyncio.to_thread(self._get)
        await app(scope, receive, send)


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

        def build() -> Any:
            context = stack.enter_context(
                dagster_internals.WorkspaceProcessContext(
                    instance, version=__version__, workspace_load_target=dagster_internals.WorkspaceFileTarget([args.workspace])
                )
            )
            return create_app_from_workspace_process_context(context, "", None)

        app = LoadedOnFirstRequest(build)
        QuietServer(uvicorn.Config(app, host=args.host, port=args.port, log_level="warning", lifespan="on")).run()


if __name__ == "__main__":
    main()
