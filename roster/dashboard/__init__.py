"""The import dashboard: server-rendered pages on the API app (`roster serve` serves them at
/dashboard). Every action goes through the import core (roster/importing, roster/mapping,
roster/store): the dashboard is one more door, not a second way to import."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HERE = Path(__file__).parent
PREFIX = "/dashboard"
# Every dashboard response: scripts and styles only from the dashboard's own static files (no
# inline script runs, so an injected one cannot either), requests only to itself, and never in a
# frame (clickjacking). Style attributes stay allowed (style-src-attr): a progress bar's width
# is one, and an attribute cannot load or select anything.
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
        b"img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        b"base-uri 'none'; object-src 'none'",
    ),
    (b"x-frame-options", b"DENY"),  # frame-ancestors for browsers older than CSP 2
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


class SecurityHeaders:
    """Pure ASGI middleware: SECURITY_HEADERS on every response under PREFIX."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == PREFIX or path.startswith(PREFIX + "/")):
            return await self.app(scope, receive, send)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in SECURITY_HEADERS if n not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def signed_in_team(scope: Scope) -> int | None:
    """The team of a dashboard request's signed session cookie (no database), for the rate
    limiter: a signed-in browser pays from its team's bucket, never its address's, so wrong keys
    sent from the same address cannot lock it out."""
    path = scope.get("path", "")
    if not path.startswith(PREFIX):
        return None
    from roster.dashboard import sessions

    cookies = [v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"cookie"]
    return sessions.team_of("; ".join(cookies)) if cookies else None


def mount(app: FastAPI) -> None:
    """Add the dashboard's pages and its static files to the API app."""

    from roster.dashboard import webhooks
    from roster.dashboard.routes import SignInNeeded, router

    async def sign_in_needed(request: Request, exc: SignInNeeded) -> Response:
        if request.url.path.endswith(".json") or "application/json" in request.headers.get("accept", ""):
            return JSONResponse({"error": "sign in again"}, status_code=401)
        return RedirectResponse(PREFIX + "/sign-in", status_code=303)

    async def root() -> RedirectResponse:
        # The server's address opened in a browser: the dashboard (the API has nothing at /).
        return RedirectResponse(PREFIX, status_code=303)

    app.add_api_route("/", root, methods=["GET"], include_in_schema=False)
    app.include_router(router)
    app.include_router(webhooks.router)
    app.add_exception_handler(SignInNeeded, sign_in_needed)
    app.add_middleware(SecurityHeaders)
    app.mount(PREFIX + "/static", StaticFiles(directory=HERE / "static"), name="dashboard-static")
