"""The dashboard's Webhooks page: the team's endpoints, their status (and why one was disabled),
and each one's latest events with their delivery status, as GET /webhooks/{id}/events shows them."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from roster.dashboard import PREFIX
from roster.dashboard.routes import Signed, page
from roster.runtime.database import get_engine
from roster.store import pages, webhooks

router = APIRouter(prefix=PREFIX, include_in_schema=False)
EVENTS_SHOWN = 20


@router.get("/webhooks", response_class=HTMLResponse)
def webhooks_page(request: Request, who: Signed) -> HTMLResponse:
    engine = get_engine()
    hooks, _ = pages.read(engine, webhooks.listing(who.team_id), 100)
    shown = []
    for hook in hooks:
        events, more = pages.read(engine, webhooks.deliveries(who.team_id, str(hook["id"])), EVENTS_SHOWN)
        shown.append({"hook": hook, "events": events, "more": more})
    return page(request, "webhooks.html", who, hooks=shown)
