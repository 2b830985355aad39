"""Segments: create, list, get, update the name, delete (with its memberships)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from roster.api.http import render
from roster.api.http.auth import Caller, require_caller
from roster.api.http.errors import not_found
from roster.api.http.pagination import EVERY_OBJECT, Page, paginate
from roster.api.routers.common import Deleted, valid_id
from roster.runtime.database import get_engine
from roster.store import segments

router = APIRouter(tags=["segments"])


class Segment(BaseModel):
    object: Literal["segment"] = "segment"
    id: str
    name: str
    created_at: str


class SegmentList(BaseModel):
    object: Literal["list"] = "list"
    has_more: bool
    data: list[Segment]


class SegmentCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1, max_length=200)


class SegmentCreated(BaseModel):
    object: Literal["segment"] = "segment"
    id: str
    name: str


def _find(team_id: int, segment_id: str) -> dict[str, Any]:
    valid_id(segment_id)
    row = segments.get(get_engine(), team_id, segment_id)
    if row is None:
        raise not_found("Segment")
    return row


@router.post("/segments", status_code=201, response_model=SegmentCreated, summary="Create a segment")
def create_segment(body: SegmentCreate, caller: Annotated[Caller, Depends(require_caller)]) -> dict[str, Any]:
    new_id = segments.create(get_engine(), caller.team_id, body.name)
    return {"object": "segment", "id": new_id, "name": body.name}


@router.get("/segments", response_model=SegmentList, summary="List segments")
def list_segments(
    caller: Annotated[Caller, Depends(require_caller)], page: Annotated[Page, Depends(EVERY_OBJECT)]
) -> dict[str, Any] | StreamingResponse:
    return paginate(get_engine(), segments.listing(caller.team_id), page, render.segment)


@router.get("/segments/{segment_id}", response_model=Segment, summary="Retrieve a segment")
def get_segment(segment_id: str, caller: Annotated[Caller, Depends(require_caller)]) -> dict[str, Any]:
    return render.segment(_find(caller.team_id, segment_id))


@router.patch("/segments/{segment_id}", response_model=SegmentCreated, summary="Rename a segment")
def update_segment(segment_id: str, body: SegmentCreate, caller: Annotated[Caller, Depends(require_caller)]) -> dict[str, Any]:
    valid_id(segment_id)
    if not segments.rename(get_engine(), caller.team_id, segment_id, body.name):
        raise not_found("Segment")
    return {"object": "segment", "id": segment_id, "name": body.name}


@router.delete("/segments/{segment_id}", response_model=Deleted, summary="Delete a segment and its memberships")
def delete_segment(segment_id: str, caller: Annotated[Caller, Depends(require_caller)]) -> dict[str, Any]:
    valid_id(segment_id)
    if not segments.delete(get_engine(), caller.team_id, segment_id):
        raise not_found("Segment")
    return {"object": "segment", "id": segment_id, "deleted": True}
