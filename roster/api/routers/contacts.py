"""Contacts: create, get/update/delete by id or email, list (with a segment filter); and a
contact's segments and topics.

A contact is found by id, or by email compared as the unique index (team_id, lower(email))
compares them (roster/store/contacts.py), so whatever the index calls one contact, GET finds."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from roster.api.http import render
from roster.api.http.auth import Caller, require_caller
from roster.api.http.errors import ApiError, not_found
from roster.api.http.pagination import EVERY_OBJECT, Page, paginate
from roster.api.routers.common import Created, valid_id
from roster.api.routers.segments import SegmentList
from roster.runtime.database import get_engine
from roster.store import contacts, properties, segments, topics
from schemas.rules import PropertyType, email_problem, is_uuid

router = APIRouter(tags=["contacts"])


class PropertyValue(BaseModel):
    value: str | float | int | bool
    type: PropertyType


class Contact(BaseModel):
    object: Literal["contact"] = "contact"
    id: str
    email: str
    first_name: str | None
    last_name: str | None
    created_at: str
    unsubscribed: bool
    properties: dict[str, PropertyValue]


class ContactList(BaseModel):
    object: Literal["list"] = "list"
    has_more: bool
    data: list[Contact]


class SegmentRef(BaseModel):
    id: str


class TopicRef(BaseModel):
    id: str
    subscription: Literal["opt_in", "opt_out"] = "opt_in"


class ContactCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    email: str = Field(min_length=3, max_length=320)
    first_name: str | None = None
    last_name: str | None = None
    unsubscribed: bool | None = None
    properties: dict[str, Any] | None = None
    segments: list[SegmentRef] | None = None
    topics: list[TopicRef] | None = None


class ContactUpdate(BaseModel):
    """`id` and `email` in the body (Resend's SDK sends them) are ignored: the path names the contact."""

    model_config = ConfigDict(extra="ignore")
    first_name: str | None = None
    last_name: str | None = None
    unsubscribed: bool | None = None
    properties: dict[str, Any] | None = None


class ContactTopic(BaseModel):
    id: str
    name: str
    description: str | None = None  # left out when the topic has none
    subscription: Literal["opt_in", "opt_out"]


class ContactTopicList(BaseModel):
    object: Literal["list"] = "list"
    has_more: bool
    data: list[ContactTopic]


class TopicsUpdate(BaseModel):
    """Also accepted: the array wrapped as {"topics": [...]} (Resend's SDKs send it bare)."""

    model_config = ConfigDict(extra="ignore")
    topics: list[TopicRef]


class ContactUpdated(BaseModel):
    id: str


class ContactDeleted(BaseModel):
    object: Literal["contact"] = "contact"
    id: str
    contact: str
    deleted: Literal[True] = True


class MembershipChanged(BaseModel):
    id: str
    deleted: bool | None = None


def _valid_email(email: str) -> str:
    """The importer's rule (schemas/rules.py): what an import takes, POST /contacts takes."""
    email = email.strip()
    if email_problem(email) is not None:
        raise ApiError(422, "validation_error", f"`email`: {email!r} is not a valid email address")
    return email


def _plain(value: Any) -> Any:
    """A value as written ("pro"), or in the shape GET shows ({"value": "pro", "type": "string"}):
    a program that reads a contact and writes its properties back works either way."""
    if isinstance(value, dict) and "value" in value:
        return value["value"]
    return value


def _check_properties(team_id: int, props: dict[str, Any]) -> dict[str, Any]:
    """Properties must exist for the team and fit their type; null removes a value."""
    if not props:
        return {}
    props = {k: _plain(v) for k, v in props.items()}
    known = properties.types(get_engine(), team_id, list(props))
    for key, value in props.items():
        if key not in known:
            raise ApiError(422, "validation_error", f"property `{key}` does not exist; create it with POST /contact-properties")
        if value is None:
            continue
        kind = known[key]
        ok = (
            (kind == "string" and isinstance(value, str))
            or (kind == "number" and isinstance(value, (int, float)) and not isinstance(value, bool))
            or (kind == "boolean" and isinstance(value, bool))
        )
        if not ok:
            raise ApiError(422, "validation_error", f"property `{key}` must be a {kind}")
    return props


def _check_key(id_or_email: str) -> str:
    """A contact is named by its id or its email."""
    if not is_uuid(id_or_email) and ("@" not in id_or_email or "\x00" in id_or_email):
        raise ApiError(422, "invalid_parameter", "The `id` must be a valid UUID or an email address")
    return id_or_email


def _find(team_id: int, id_or_email: str) -> dict[str, Any]:
    row = contacts.get(get_engine(), team_id, _check_key(id_or_email))
    if row is None:
        raise not_found("Contact")
    return row


def _check_segment(team_id: int, segment_id: str) -> None:
    valid_id(segment_id, "segments.id")
    if not segments.exists(get_engine(), team_id, segment_id):
        raise ApiError(422, "validation_error", f"segment {segment_id} does not exist")


def _check_topic(team_id: int, topic_id: str) -> None:
    valid_id(topic_id, "topics.id")
    if not topics.exists(get_engine(), team_id, topic_id):
        raise ApiError(422, "validation_error", f"topic {topic_id} does not exist")


@router.post("/contacts", status_code=201, response_model=Created, summary="Create a contact")
def create_contact(body: ContactCreate, caller: Annotated[Caller, Depends(require_caller)]) -> dict[str, Any]:
    email = _valid_email(body.email)
    props = _check_properties(caller.team_id, body.properties or {})
    for s in body.segments or []:
        _check_segment(caller.team_id, s.id)
    for tp in body.topics or []:
        _check_topic(caller.team_id, tp.id)
    new_id = contacts.create(
        get_engine(),
        caller.team_id,
        email=email,
        first_name=body.first_name,
        last_name=body.last_name,
        unsubscribed=body.unsubscribed if body.unsubscribed is not None else False,
        properties={k: v for k, v in props.items() if v is not None},
        segment_ids=[s.id for s in body.segments or []],
        topics=[(tp.id, tp.subscription) for tp in body.topics or []],
    )
    if new_id is None:
        raise ApiError(422, "validation_error", f"a contact with the email {email} already exists")
    return {"object": "contact", "id": new_id}


@router.get("/contacts", response_model=ContactList, summary="List contacts")
def list_contacts(
    caller: Annotated[Caller, Depends(require_caller)],
    page: Annotated[Page, Depends(EVERY_OBJECT)],
    segment_id: Annotated[str | None, Query(description="Only the contacts in this segment.")] = None,
) -> dict[str, Any] | StreamingResponse:
    return _list(caller, page, segment_id)


def _list(caller: Caller, page: Page, segment_id: str | None) -> dict[str, Any] | StreamingResponse:
    if segment_id is not None:
        _segment_or_404(caller.team_id, segment_id)
    return paginate(get_engine(), contacts.listing(caller.team_id, segment_id), page, render.contact)


@router.get(
    "/segments/{segment_id}/contacts", response_model=ContactList, summary="List the contacts of a segment", tags=["segments"]
)
def list_segment_contacts(
    segment_id: str,
    caller: Annotated[Caller, Depends(require_caller)],
    page: Annotated[Page, Depends(EVERY_OBJECT)],
) -> dict[str, Any] | StreamingResponse:
    return _list(caller, page, segment_id)


@router.get("/contacts/{id_or_email}", response_model=Contact, summary="Retrieve a contact by id or email")
def get_contact(id_or_email: str, caller: Annotated[Caller, Depends(require_caller)]) -> dict[str, Any]:
    return render.contact(_find(caller.team_id, id_or_email))


@router.patch("/contacts/{id_or_email}", response_model=Created, summary="Update a contact by id or email")
def update_contact(id_or_email: str, body: ContactUpdate, caller: Annotated[Caller, Depends(require_caller)]) -> dict[str, Any]:
    """`properties` are merged into the stored ones in the database's one UPDATE (null removes a
    value), never into a dict read earlier: see roster/store/contacts.py."""
    fields: dict[str, Any] = {
        f: getattr(body, f) for f in ("first_name", "last_name", "unsubscribed") if f in body.model_fields_set
    }
    props = _check_properties(caller.team_id, body.properties) if body.properties else {}
    contact_id = contacts.update(
        get_engine(),
        caller.team_id,
        _check_key(id_or_email),
        fields,
        set_properties={k: v for k, v in props.items() if v is not None},
        removed_properties=sorted(k for k, v in props.items() if v is None),
    )
    if contact_id is None:
        raise not_found("Contact")
    return {"object": "contact", "id": contact_id}


@router.delete("/contacts/{id_or_email}", response_model=ContactDeleted, summary="Delete a contact by id or email")
def delete_contact(id_or_email: str, caller: Annotated[Caller, Depends(require_caller)]) -> dict[str, Any]:
    cid = contacts.delete(get_engine(), caller.team_id, _check_key(id_or_email))
    if cid is None:
        raise not_found("Contact")
    return {"object": "contact", "id": cid, "contact": cid, "deleted": True}


# -- a contact's segments -------------------------------------------------------------------------
@router.get(
    "/contacts/{id_or_email}/segments", response_model=SegmentList, summary="List a contact's segments", tags=["segments"]
)
def list_contact_segments(
    id_or_email: str,
    caller: Annotated[Caller, Depends(require_caller)],
    page: Annotated[Page, Depends(EVERY_OBJECT)],
) -> dict[str, Any] | StreamingResponse:
    contact = _find(caller.team_id, id_or_email)
    return paginate(get_engine(), segments.of_contact(caller.team_id, contact["id"]), page, render.segment)


def _segment_or_404(team_id: int, segment_id: str) -> None:
    valid_id(segment_id, "segment_id")
    if not segments.exists(get_engine(), team_id, segment_id):
        raise not_found("Segment")


@router.post(
    "/contacts/{id_or_email}/segments/{segment_id}",
    response_model=MembershipChanged,
    response_model_exclude_none=True,
    summary="Add a contact to a segment",
    tags=["segments"],
)
def add_contact_segment(id_or_email: str, segment_id: str, caller: Annotated[Caller, Depends(require_caller)]) -> dict[str, Any]:
    contact = _find(caller.team_id, id_or_email)
    _segment_or_404(caller.team_id, segment_id)
    segments.add_contact(get_engine(), caller.team_id, contact["id"], segment_id)
    return {"id": segment_id}


@router.delete(
    "/contacts/{id_or_email}/segments/{segment_id}",
    response_model=MembershipChanged,
    summary="Remove a contact from a segment",
    tags=["segments"],
)
def remove_contact_segment(
    id_or_email: str, segment_id: str, caller: Annotated[Caller, Depends(require_caller)]
) -> dict[str, Any]:
    contact = _find(caller.team_id, id_or_email)
    _segment_or_404(caller.team_id, segment_id)
    if not segments.remove_contact(get_engine(), caller.team_id, contact["id"], segment_id):
        # Nothing was removed: not found, as Resend answers a membership that does not exist.
        raise ApiError(404, "not_found", "Contact is not in this segment")
    return {"id": segment_id, "deleted": True}


# -- a contact's topics ---------------------------------------------------------------------------
@router.get(
    "/contacts/{id_or_email}/topics",
    response_model=ContactTopicList,
    response_model_exclude_none=True,
    summary="List a contact's topic subscriptions",
    tags=["topics"],
)
def list_contact_topics(
    id_or_email: str,
    caller: Annotated[Caller, Depends(require_caller)],
    page: Annotated[Page, Depends(EVERY_OBJECT)],
) -> dict[str, Any] | StreamingResponse:
    """Every topic of the team, with this contact's subscription: the one set for the contact (by an
    import, POST /contacts or PATCH .../topics), else the topic's `default_subscription`."""
    contact = _find(caller.team_id, id_or_email)
    return paginate(get_engine(), topics.of_contact(caller.team_id, contact["id"]), page, render.contact_topic)


@router.patch(
    "/contacts/{id_or_email}/topics",
    response_model=ContactUpdated,
    summary="Update a contact's topic subscriptions",
    tags=["topics"],
)
def update_contact_topics(
    id_or_email: str,
    body: list[TopicRef] | TopicsUpdate,
    caller: Annotated[Caller, Depends(require_caller)],
) -> dict[str, Any]:
    """The body is a JSON array `[{"id": "<topic id>", "subscription": "opt_in" | "opt_out"}]`; the
    topics it names get that subscription, the others are left as they are."""
    refs = body.topics if isinstance(body, TopicsUpdate) else body
    if not refs:
        raise ApiError(422, "missing_required_field", "`topics` must name at least one topic")
    wanted: dict[str, str] = {}
    for i, ref in enumerate(refs):
        valid_id(ref.id, f"topics[{i}].id")
        wanted[str(ref.id).lower()] = ref.subscription  # the same topic twice: the last one wins
    contact = _find(caller.team_id, id_or_email)
    missing = topics.missing(get_engine(), caller.team_id, list(wanted))
    if missing:
        raise ApiError(422, "validation_error", f"topic {missing[0]} does not exist")
    topics.subscribe(get_engine(), caller.team_id, contact["id"], wanted)
    return {"id": str(contact["id"])}
