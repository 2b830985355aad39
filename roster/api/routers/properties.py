"""Contact properties: create, list, get, update the fallback value, delete."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict

from roster.api.http import render
from roster.api.http.auth import Caller, require_caller
from roster.api.http.errors import ApiError, not_found
from roster.api.http.pagination import PROPERTIES_PAGE, Page, paginate
from roster.api.routers.common import Created, Deleted, valid_id
from roster.runtime.database import get_engine
from roster.store import properties
from schemas.rules import PROPERTY_KEY, PropertyType, StoredType

router = APIRouter(tags=["contact properties"])
Fallback = str | float | int | bool | None


class ContactProperty(BaseModel):
    object: Literal["contact_property"] = "contact_property"
    id: str
    key: str
    type: PropertyType
    fallback_value: Fallback
    created_at: str


class ContactPropertyList(BaseModel):
    object: Literal["list"] = "list"
    has_more: bool
    data: list[ContactProperty]


class PropertyCreate(BaseModel):
    """Resend's types, string and number; a yes/no value is the string "true" or "false"."""

    model_config = ConfigDict(extra="ignore")
    key: str
    type: StoredType
    fallback_value: Fallback = None


class PropertyUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    fallback_value: Fallback = None


def _check_fallback(kind: str, value: object) -> None:
    if value is None:
        return
    ok = (
        (kind == "string" and isinstance(value, str))
        or (kind == "number" and isinstance(value, (int, float)) and not isinstance(value, bool))
        or (kind == "boolean" and isinstance(value, bool))
    )
    if not ok:
        raise ApiError(422, "validation_error", f"`fallback_value` must be a {kind}")


def _find(team_id: int, property_id: str) -> dict[str, Any]:
    valid_id(property_id)
    row = properties.get(get_engine(), team_id, property_id)
    if row is None:
        raise not_found("Contact property")
    return row


@router.post("/contact-properties", status_code=201, response_model=Created, summary="Create a contact property")
def create_property(body: PropertyCreate, caller: Annotated[Caller, Depends(require_caller)]) -> dict[str, Any]:
    if not PROPERTY_KEY.match(body.key):
        raise ApiError(422, "validation_error", "`key` must be 1 to 50 letters, digits or underscores")
    _check_fallback(body.type, body.fallback_value)
    new_id = properties.create(get_engine(), caller.team_id, body.key, body.type, body.fallback_value)
    if new_id is None:
        raise ApiError(422, "validation_error", f"a contact property with the key `{body.key}` already exists")
    return {"object": "contact_property", "id": new_id}


@router.get("/contact-properties", response_model=ContactPropertyList, summary="List contact properties")
def list_properties(
    caller: Annotated[Caller, Depends(require_caller)], page: Annotated[Page, Depends(PROPERTIES_PAGE)]
) -> dict[str, Any] | StreamingResponse:
    return paginate(get_engine(), properties.listing(caller.team_id), page, render.contact_property)


@router.get("/contact-properties/{property_id}", response_model=ContactProperty, summary="Retrieve a contact property")
def get_property(property_id: str, caller: Annotated[Caller, Depends(require_caller)]) -> dict[str, Any]:
    return render.contact_property(_find(caller.team_id, property_id))


@router.patch(
    "/contact-properties/{property_id}",
    response_model=Created,
    summary="Update a contact property's fallback value (the only thing that can change)",
)
def update_property(property_id: str, body: PropertyUpdate, caller: Annotated[Caller, Depends(require_caller)]) -> dict[str, Any]:
    row = _find(caller.team_id, property_id)
    _check_fallback(row["type"], body.fallback_value)
    properties.set_fallback(get_engine(), caller.team_id, property_id, body.fallback_value)
    return {"object": "contact_property", "id": property_id}


@router.delete(
    "/contact-properties/{property_id}",
    response_model=Deleted,
    summary="Delete a contact property (and its values on the team's contacts)",
)
def delete_property(property_id: str, caller: Annotated[Caller, Depends(require_caller)]) -> dict[str, Any]:
    valid_id(property_id)
    if not properties.delete(get_engine(), caller.team_id, property_id):
        raise not_found("Contact property")
    return {"object": "contact_property", "id": property_id, "deleted": True}
