"""Webhooks, as Resend's API has them (create, list, get, update, remove), for the contact events
(`contact.created`, `contact.updated`, `contact.deleted`) and Roster's import events
(`contact_import.completed`, `contact_import.failed`); plus each webhook's deliveries.

Roster's addition on create and update, `import_events`: what an import sends the endpoint.
`summary` (the default, as Resend: its CSV imports send no contact events) sends only the import's
own event; `each_contact` also sends a contact.created or contact.updated for every contact the
import created or updated."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import anyio.to_thread
from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from roster.api.http.auth import Caller, require_caller
from roster.api.http.errors import ApiError, not_found
from roster.api.http.pagination import EVERY_OBJECT, Page, page_params, paginate
from roster.api.routers.common import Created, Deleted, valid_id
from roster.importing.render import pg_timestamp
from roster.runtime.database import get_engine
from roster.safety.outside_fetch import FetchError
from roster.store import webhooks
from roster.store.webhook_outbox import EVENTS
from roster.webhooks.delivery import check_endpoint, envelope

router = APIRouter(tags=["webhooks"])
EVENTS_PAGE = page_params(20)
ImportEvents = Literal["summary", "each_contact"]


class WebhookCreated(BaseModel):
    object: Literal["webhook"] = "webhook"
    id: str
    signing_secret: str


class Webhook(BaseModel):
    object: Literal["webhook"] = "webhook"
    id: str
    created_at: str
    status: Literal["enabled", "disabled"]
    endpoint: str
    events: list[str]
    signing_secret: str
    import_events: ImportEvents
    disabled_reason: str | None


class WebhookListItem(BaseModel):
    id: str
    endpoint: str
    created_at: str
    status: Literal["enabled", "disabled"]
    events: list[str]
    import_events: ImportEvents
    disabled_reason: str | None


class WebhookList(BaseModel):
    object: Literal["list"] = "list"
    has_more: bool
    data: list[WebhookListItem]


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    endpoint: str = Field(min_length=1, max_length=2048)
    events: list[str] = Field(min_length=1)
    import_events: ImportEvents = "summary"


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    endpoint: str | None = Field(default=None, min_length=1, max_length=2048)
    events: list[str] | None = Field(default=None, min_length=1)
    status: Literal["enabled", "disabled"] | None = None
    import_events: ImportEvents | None = None


EventStatus = Literal["pending", "attempting", "success", "failed"]


class EventSummary(BaseModel):
    id: str
    type: str
    created_at: str
    status: EventStatus


class EventList(BaseModel):
    object: Literal["list"] = "list"
    has_more: bool
    data: list[EventSummary]


class Event(BaseModel):
    object: Literal["webhook_event"] = "webhook_event"
    id: str
    type: str
    created_at: str
    status: EventStatus
    next_attempt_at: str | None
    payload: dict[str, Any]
    # Roster's additions: the attempts so far, and the last one's answer.
    attempts: int
    response_status: int | None
    error: str | None


class Attempt(BaseModel):
    id: str
    http_status_code: int | None
    response: str
    sent_at: str


class AttemptList(BaseModel):
    object: Literal["list"] = "list"
    has_more: bool
    data: list[Attempt]


class SecretRotated(BaseModel):
    object: Literal["webhook"] = "webhook"
    id: str
    signing_secret: str


def render(r: dict[str, Any], with_secret: bool = True) -> dict[str, Any]:
    out = {
        "object": "webhook",
        "id": str(r["id"]),
        "created_at": pg_timestamp(r["created_at"]),
        "status": r["status"],
        "endpoint": r["endpoint"],
        "events": list(r["events"]),
        "import_events": r["import_events"],
        "disabled_reason": r["disabled_reason"],
    }
    if with_secret:
        out["signing_secret"] = r["signing_secret"]
    return out


def event_status(r: dict[str, Any]) -> str:
    """Resend's words for a delivery's state: pending (not tried yet), attempting (tried, to be
    tried again), success, failed (given up)."""
    if r["status"] == "delivered":
        return "success"
    if r["status"] == "failed":
        return "failed"
    return "attempting" if r["attempts"] else "pending"


def render_event_summary(r: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(r["id"]), "type": r["type"], "created_at": pg_timestamp(r["created_at"]), "status": event_status(r)}


def render_event(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "webhook_event",
        **render_event_summary(r),
        "next_attempt_at": pg_timestamp(r["next_attempt_at"]) if r["status"] == "pending" else None,
        "payload": envelope(r),
        "attempts": r["attempts"],
        "response_status": r["response_status"],
        "error": r["error"],
    }


def render_attempt(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(r["id"]),
        "http_status_code": r["http_status_code"],
        "response": r["response"],
        "sent_at": pg_timestamp(r["sent_at"]),
    }


def _events(events: list[str]) -> list[str]:
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        raise ApiError(
            422,
            "validation_error",
            f"`events`: Roster sends no {unknown[0]!r} events; it sends {', '.join(EVENTS)}",
        )
    return sorted(set(events), key=EVENTS.index)


async def _endpoint(url: str) -> str:
    """The guard the daemon applies when sending, applied now so a bad endpoint is refused at once."""
    try:
        await anyio.to_thread.run_sync(check_endpoint, url)
    except FetchError as e:
        raise ApiError(422, "validation_error", f"`endpoint`: {e}") from None
    except (ValueError, UnicodeError) as e:  # a host name that is no name (IDNA refuses it)
        raise ApiError(422, "validation_error", f"`endpoint`: the url is not valid ({e})") from None
    return url


def _find(team_id: int, webhook_id: str) -> dict[str, Any]:
    valid_id(webhook_id)
    row = webhooks.get(get_engine(), team_id, webhook_id)
    if row is None:
        raise not_found("Webhook")
    return row


@router.post("/webhooks", status_code=201, response_model=WebhookCreated, summary="Create a webhook")
async def create_webhook(body: WebhookCreate, caller: Annotated[Caller, Depends(require_caller)]) -> dict[str, Any]:
    events = _events(body.events)
    endpoint = await _endpoint(body.endpoint)
    row = await anyio.to_thread.run_sync(webhooks.create, get_engine(), caller.team_id, endpoint, events, body.import_events)
    return {"object": "webhook", "id": str(row["id"]), "signing_secret": row["signing_secret"]}


@router.get("/webhooks", response_model=WebhookList, summary="List webhooks")
def list_webhooks(
    caller: Annotated[Caller, Depends(require_caller)], page: Annotated[Page, Depends(EVERY_OBJECT)]
) -> dict[str, Any] | StreamingResponse:
    return paginate(get_engine(), webhooks.listing(caller.team_id), page, lambda r: render(r, with_secret=False))


@router.get("/webhooks/{webhook_id}", response_model=Webhook, summary="Retrieve a webhook")
def get_webhook(webhook_id: str, caller: Annotated[Caller, Depends(require_caller)]) -> dict[str, Any]:
    return render(_find(caller.team_id, webhook_id))


@router.patch("/webhooks/{webhook_id}", response_model=Created, summary="Update a webhook")
async def update_webhook(
    webhook_id: str, body: WebhookUpdate, caller: Annotated[Caller, Depends(require_caller)]
) -> dict[str, Any]:
    valid_id(webhook_id)
    values = {f: getattr(body, f) for f in ("endpoint", "events", "status", "import_events") if getattr(body, f) is not None}
    if "events" in values:
        values["events"] = _events(values["events"])
    if "endpoint" in values:
        values["endpoint"] = await _endpoint(values["endpoint"])
    if not await anyio.to_thread.run_sync(webhooks.update, get_engine(), caller.team_id, webhook_id, values):
        raise not_found("Webhook")
    return {"object": "webhook", "id": webhook_id}


@router.delete("/webhooks/{webhook_id}", response_model=Deleted, summary="Remove a webhook")
def delete_webhook(webhook_id: str, caller: Annotated[Caller, Depends(require_caller)]) -> dict[str, Any]:
    valid_id(webhook_id)
    if not webhooks.delete(get_engine(), caller.team_id, webhook_id):
        raise not_found("Webhook")
    return {"object": "webhook", "id": webhook_id, "deleted": True}


@router.post(
    "/webhooks/{webhook_id}/signing-secret/rotate", response_model=SecretRotated, summary="Rotate a webhook's signing secret"
)
def rotate_signing_secret(webhook_id: str, caller: Annotated[Caller, Depends(require_caller)]) -> dict[str, Any]:
    valid_id(webhook_id)
    secret = webhooks.rotate_secret(get_engine(), caller.team_id, webhook_id)
    if secret is None:
        raise not_found("Webhook")
    return {"object": "webhook", "id": webhook_id, "signing_secret": secret}


@router.get(
    "/webhooks/{webhook_id}/events", response_model=EventList, summary="List a webhook's events and their delivery status"
)
def list_events(
    webhook_id: str, caller: Annotated[Caller, Depends(require_caller)], page: Annotated[Page, Depends(EVENTS_PAGE)]
) -> dict[str, Any] | StreamingResponse:
    _find(caller.team_id, webhook_id)
    return paginate(get_engine(), webhooks.deliveries(caller.team_id, webhook_id), page, render_event_summary)


def _event(team_id: int, webhook_id: str, event_id: str) -> dict[str, Any]:
    valid_id(webhook_id)
    valid_id(event_id, "event_id")
    row = webhooks.delivery(get_engine(), team_id, webhook_id, event_id)
    if row is None:
        raise not_found("Webhook event")
    return row


@router.get("/webhooks/{webhook_id}/events/{event_id}", response_model=Event, summary="Retrieve a webhook event")
def get_event(webhook_id: str, event_id: str, caller: Annotated[Caller, Depends(require_caller)]) -> dict[str, Any]:
    return render_event(_event(caller.team_id, webhook_id, event_id))


@router.get(
    "/webhooks/{webhook_id}/events/{event_id}/attempts",
    response_model=AttemptList,
    summary="List a webhook event's delivery attempts",
)
def list_event_attempts(
    webhook_id: str,
    event_id: str,
    caller: Annotated[Caller, Depends(require_caller)],
    page: Annotated[Page, Depends(EVENTS_PAGE)],
) -> dict[str, Any] | StreamingResponse:
    _event(caller.team_id, webhook_id, event_id)
    return paginate(get_engine(), webhooks.attempts(caller.team_id, event_id), page, render_attempt)


@router.post("/webhooks/{webhook_id}/events/{event_id}/replay", response_model=Created, summary="Send a webhook event again")
def replay_event(webhook_id: str, event_id: str, caller: Annotated[Caller, Depends(require_caller)]) -> dict[str, Any]:
    _event(caller.team_id, webhook_id, event_id)
    webhooks.replay(get_engine(), caller.team_id, webhook_id, event_id)
    return {"object": "webhook_event", "id": event_id}
