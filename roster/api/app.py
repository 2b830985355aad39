"""The FastAPI app: `uvicorn roster.api.app:app`, or `create_app(...)` with settings of its own."""

from __future__ import annotations

from fastapi import FastAPI

from roster.api.http.errors import install_error_handlers
from roster.api.http.idempotency import IdempotencyMiddleware, IdempotencyStore
from roster.api.http.ratelimit import RateLimitMiddleware, limits
from roster.api.http.state import Janitor
from roster.api.routers import audiences, contacts, imports, properties, segments, topics, webhooks
from roster.dashboard import mount as mount_dashboard
from roster.dashboard import signed_in_team

DESCRIPTION = """Bulk contact imports into PostgreSQL, speaking Resend's Contacts (Import) API wire format.

Authenticate with `Authorization: Bearer <api key>` (`roster keys create --team NAME`). Errors are
`{"statusCode", "name", "message"}`. POSTs accept an `Idempotency-Key` (1-256 characters, per team,
kept 24 h, shared by every server process). Responses carry `ratelimit-limit`, `ratelimit-remaining`
and `ratelimit-reset` (per team, across its keys); over the limit is 429 with `retry-after`."""


def create_app(
    rate_limit: float | None = None,
    idempotency_ttl: float | None = None,
    bad_key_limit: float | None = None,
    cleanup_interval: float | None = None,
) -> FastAPI:
    """`rate_limit`: requests per second per team, and per client address before a key is verified
    (default: ROSTER_RATE_LIMIT, else 10). `bad_key_limit`: failed key lookups per minute per client
    address (default: ROSTER_BAD_KEY_LIMIT, else 10). `idempotency_ttl`: seconds a key is kept
    (24 h). `cleanup_interval`: seconds between deletions of expired state (60)."""
    app = FastAPI(title="Roster", version="0.1.0", description=DESCRIPTION)
    install_error_handlers(app)
    # Order matters: /contacts/imports before /contacts/{id_or_email}.
    app.include_router(imports.router)
    app.include_router(contacts.router)
    app.include_router(properties.router)
    app.include_router(segments.router)
    app.include_router(topics.router)
    app.include_router(webhooks.router)
    app.include_router(audiences.router)
    mount_dashboard(app)  # the web dashboard at /dashboard (roster/dashboard)
    limits(rate_limit, bad_key_limit)  # a bad setting fails here, not at the first request
    store = IdempotencyStore(ttl=idempotency_ttl) if idempotency_ttl else IdempotencyStore()
    janitor = Janitor(cleanup_interval) if cleanup_interval is not None else Janitor()
    app.add_middleware(IdempotencyMiddleware, store=store)  # inner
    # outer: limits replays too, and resolves the API key (after the client address has paid for it)
    app.add_middleware(
        RateLimitMiddleware, rate=rate_limit, bad_keys_per_minute=bad_key_limit, janitor=janitor, signed_in_team=signed_in_team
    )
    return app


app = create_app()
