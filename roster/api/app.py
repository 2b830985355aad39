"""The FastAPI app: `uvicorn roster.api.app:app`, or `create_app(...)` with settings of its own."""
from __future__ import annotations

from fastapi import FastAPI

from roster.api.errors import install_error_handlers
from roster.api.idempotency import IdempotencyMiddleware, IdempotencyStore
from roster.api.ratelimit import RateLimitMiddleware
from roster.api.routers import contacts, imports, properties, segments, topics

DESCRIPTION = """Bulk contact imports into PostgreSQL, speaking Resend's Contacts (Import) API wire format.

Authenticate with `Authorization: Bearer <api key>` (`roster keys create --team NAME`). Errors are
`{"statusCode", "name", "message"}`. POSTs accept an `Idempotency-Key` (1-256 characters, kept 24 h,
in memory per server process). Responses carry `ratelimit-limit`, `ratelimit-remaining` and
`ratelimit-reset`; over the limit is 429 with `retry-after`."""


def create_app(rate_limit: float | None = None, idempotency_ttl: float | None = None) -> FastAPI:
    """`rate_limit`: requests per second per API key (default: ROSTER_RATE_LIMIT, else 10)."""
    app = FastAPI(title="Roster", version="0.1.0", description=DESCRIPTION)
    install_error_handlers(app)
    # Order matters: /contacts/imports before /contacts/{id_or_email}.
    app.include_router(imports.router)
    app.include_router(contacts.router)
    app.include_router(properties.router)
    app.include_router(segments.router)
    app.include_router(topics.router)
    store = IdempotencyStore(ttl=idempotency_ttl) if idempotency_ttl else IdempotencyStore()
    app.add_middleware(IdempotencyMiddleware, store=store)          # inner
    app.add_middleware(RateLimitMiddleware, rate=rate_limit)         # outer: limits replays too
    return app


app = create_app()
