"""Resend's legacy audience paths, `/audiences/{audience_id}/contacts...`: deprecated by Resend,
still in its SDKs (Node `contacts.create/get/update/remove({ audienceId })`, Python
`Contacts.list/create/get(audience_id=...)`) and in code written for Resend before segments.
An audience is a segment here, as Resend's own migration made them:

- POST creates the contact in the segment (a contact that exists already is added to it);
- GET lists the segment's contacts, or shows one of them (404 for a contact not in it);
- PATCH updates a contact of the segment; DELETE deletes it (as Resend's audiences did), with
  its memberships and topics.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from roster.api.http import render
from roster.api.http.auth import Caller, require_caller
from roster.api.http.errors import ApiError, not_found
from roster.api.http.pagination import EVERY_OBJECT, Page
from roster.api.routers import contacts as contact_routes
from roster.api.routers.common import Created, valid_id
from roster.runtime.database import get_engine
from roster.store import contacts, segments

router = APIRouter(tags=["audiences (deprecated: segments)"])


def _audience(team_id: int, audience_id: str) -> str:
    valid_id(audience_id, "audience_id")
    if not segments.exists(get_engine(), team_id, audience_id):
        raise not_found("Audience")
    return audience_id


def _member(team_id: int, audience_id: str, id_or_email: str) -> dict[str, Any]:
    _audience(team_id, audience_id)
    contact = contact_routes._find(team_id, id_or_email)
    if not segments.has_contact(get_engine(), team_id, contact["id"], audience_id):
        raise not_found("Contact")
    return contact


@router.post(
    "/audiences/{audience_id}/contacts", status_code=201, response_model=Created, summary="Create a contact in an audience"
)
def create_audience_contact(
    audience_id: str, body: contact_routes.ContactCreate, caller: Annotated[Caller, Depends(require_caller)]
) -> dict[str, Any]:
    _audience(caller.team_id, audience_id)
    wanted = [contact_routes.SegmentRef(id=audience_id)] + [s for s in body.segments or [] if s.id != audience_id]
    try:
        return contact_routes.create_contact(body.model_copy(update={"segments": wanted}), caller)
    except ApiError as e:
        if e.status_code != 422 or "already exists" not in e.message:
            raise
    existing = contact_routes._find(caller.team_id, body.email.strip())
    segments.add_contact(get_engine(), caller.team_id, existing["id"], audience_id)
    return {"object": "contact", "id": str(existing["id"])}


@router.get("/audiences/{audience_id}/contacts", response_model=contact_routes.ContactList, summary="List an audience's contacts")
def list_audience_contacts(
    audience_id: str, caller: Annotated[Caller, Depends(require_caller)], page: Annotated[Page, Depends(EVERY_OBJECT)]
) -> dict[str, Any] | StreamingResponse:
    _audience(caller.team_id, audience_id)
    return contact_routes._list(caller, page, audience_id)


@router.get(
    "/audiences/{audience_id}/contacts/{id_or_email}",
    response_model=contact_routes.Contact,
    summary="Retrieve an audience's contact",
)
def get_audience_contact(
    audience_id: str, id_or_email: str, caller: Annotated[Caller, Depends(require_caller)]
) -> dict[str, Any]:
    return render.contact(_member(caller.team_id, audience_id, id_or_email))


@router.patch("/audiences/{audience_id}/contacts/{id_or_email}", response_model=Created, summary="Update an audience's contact")
def update_audience_contact(
    audience_id: str, id_or_email: str, body: contact_routes.ContactUpdate, caller: Annotated[Caller, Depends(require_caller)]
) -> dict[str, Any]:
    contact = _member(caller.team_id, audience_id, id_or_email)
    return contact_routes.update_contact(str(contact["id"]), body, caller)


@router.delete(
    "/audiences/{audience_id}/contacts/{id_or_email}",
    response_model=contact_routes.ContactDeleted,
    summary="Delete an audience's contact",
)
def delete_audience_contact(
    audience_id: str, id_or_email: str, caller: Annotated[Caller, Depends(require_caller)]
) -> dict[str, Any]:
    contact = _member(caller.team_id, audience_id, id_or_email)
    cid = contacts.delete(get_engine(), caller.team_id, str(contact["id"]))
    if cid is None:
        raise not_found("Contact")
    return {"object": "contact", "id": cid, "contact": cid, "deleted": True}
