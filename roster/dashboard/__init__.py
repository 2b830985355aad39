"""The import dashboard: server-rendered pages on the API app (`roster serve` serves them at
/dashboard). Every action goes through the import core (roster/importing, roster/mapping,
roster/store): the dashboard is one more door, not a second way to import."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

HERE = Path(__file__).parent
PREFIX = "/dashboard"


def mount(app: FastAPI) -> None:
    """Add the dashboard's pages and its static files to the API app."""
    from fastapi import Request
    from fastapi.responses import JSONResponse, RedirectResponse

    from roster.dashboard import webhooks
    from roster.dashboard.routes import SignInNeeded, router

    async def sign_in_needed(request: Request, exc: SignInNeeded):
        if request.url.path.endswith(".json") or "application/json" in request.headers.get("accept", ""):
            return JSONResponse({"error": "sign in again"}, status_code=401)
        return RedirectResponse(PREFIX + "/sign-in", status_code=303)

    app.include_router(router)
    app.include_router(webhooks.router)
    app.add_exception_handler(SignInNeeded, sign_in_needed)
    app.mount(PREFIX + "/static", StaticFiles(directory=HERE / "static"), name="dashboard-static")
