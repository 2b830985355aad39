"""Segments: create, list, get, update the name, delete (with its memberships)."""

from __future__ import annotations

from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from roster.api.http import render
from roster.api.http.auth import Caller, require_caller
from roster.api.http.errors import not_found
from roster.api.http.pagination import EVERY_OBJECT, Page, paginate
from roster.api.routers.common import Deleted, valid_id
from roster.database import get_engine
from roster.store.pages import Listing
from schemas import tables as t

router = APIRouter(tags=["segments"])
s = t.segments


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


def _find(conn, team_id: int, segment_id: str) -> dict:
    valid_id(segment_id)
    row = conn.execute(sa.select(s).where(s.c.id == segment_id, s.c.team_id == team_id)).mappings().first()
    if row is None:
        raise not_found("Segment")
    return dict(row)


@router.post("/segments", status_code=201, response_model=SegmentCreated, summary="Create a segment")
def create_segment(body: SegmentCreate, caller: Annotated[Caller, Depends(require_caller)]):
    with get_engine().begin() as conn:
        new_id = conn.execute(sa.insert(s).values(team_id=caller.team_id, name=body.name).returning(s.c.id)).scalar_one()
    return {"object": "segment", "id": str(new_id), "name": body.name}


@router.get("/segments", response_model=SegmentList, summary="List segments")
def list_segments(caller: Annotated[Caller, Depends(require_caller)], page: Annotated[Page, Depends(EVERY_OBJECT)]):
    return paginate(
        get_engine(),
        Listing(
            sa.select(s).where(s.c.team_id == caller.team_id),
            s.c.created_at,
            s.c.id,
            lambda sid: sa.select(s.c.created_at).where(s.c.id == sid, s.c.team_id == caller.team_id),
        ),
        page,
        render.segment,
    )


@router.get("/segments/{segment_id}", response_model=Segment, summary="Retrieve a segment")
def get_segment(segment_id: str, caller: Annotated[Caller, Depends(require_caller)]):
    with get_engine().connect() as conn:
        return render.segment(_find(conn, caller.team_id, segment_id))


@router.patch("/segments/{segment_id}", response_model=SegmentCreated, summary="Rename a segment")
def update_segment(segment_id: str, body: SegmentCreate, caller: Annotated[Caller, Depends(require_caller)]):
    with get_engine().begin() as conn:
        _find(conn, caller.team_id, segment_id)
        conn.execute(sa.update(s).where(s.c.id == segment_id, s.c.team_id == caller.team_id).values(name=body.name))
    return {"object": "segment", "id": segment_id, "name": body.name}


@router.delete("/segments/{segment_id}", response_model=Deleted, summary="Delete a segment and its memberships")
def delete_segment(segment_id: str, caller: Annotated[Caller, Depends(require_caller)]):
    with get_engine().begin() as conn:
        _find(conn, caller.team_id, segment_id)
        cs = t.contact_segments
        conn.execute(sa.delete(cs).where(cs.c.segment_id == segment_id, cs.c.team_id == caller.team_id))
        conn.execute(sa.delete(s).where(s.c.id == segment_id, s.c.team_id == caller.team_id))
    return {"object": "segment", "id": segment_id, "deleted": True}
