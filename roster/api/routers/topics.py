"""Topics: create, list, get, update (name, description, visibility), delete (with its subscriptions).

The list, without `limit`, is every topic in one response: Resend's Node SDK, CLI and MCP server
list topics with no way to ask for a next page, so a default page would hide topics from them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from roster.api.http import render
from roster.api.http.auth import Caller, require_caller
from roster.api.http.errors import not_found
from roster.api.http.pagination import TOPICS_PAGE, Page, paginate
from roster.api.routers.common import Created, Deleted, valid_id
from roster.runtime.database import get_engine
from roster.store import topics

router = APIRouter(tags=["topics"])


Visibility = Literal["public", "private"]


class Topic(BaseModel):
    """`description` is left out when the topic has none (optional in Resend's SDK types)."""

    object: Literal["topic"] = "topic"
    id: str
    name: str
    description: str | None = None
    default_subscription: Literal["opt_in", "opt_out"]
    visibility: Visibility
    created_at: str


class TopicList(BaseModel):
    object: Literal["list"] = "list"
    has_more: bool
    data: list[Topic]


class TopicCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1, max_length=50)
    default_subscription: Literal["opt_in", "opt_out"]
    description: str | None = Field(default=None, max_length=200)
    visibility: Visibility = "private"


class TopicUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str | None = Field(default=None, min_length=1, max_length=50)
    description: str | None = Field(default=None, max_length=200)
    visibility: Visibility | None = None


def _find(team_id: int, topic_id: str) -> dict[str, Any]:
    valid_id(topic_id)
    row = topics.get(get_engine(), team_id, topic_id)
    if row is None:
        raise not_found("Topic")
    return row


@router.post("/topics", status_code=201, response_model=Created, summary="Create a topic")
def create_topic(body: TopicCreate, caller: Annotated[Caller, Depends(require_caller)]) -> dict[str, Any]:
    new_id = topics.create(get_engine(), caller.team_id, body.name, body.description, body.default_subscription, body.visibility)
    return {"object": "topic", "id": new_id}


@router.get("/topics", response_model=TopicList, response_model_exclude_none=True, summary="List topics")
def list_topics(
    caller: Annotated[Caller, Depends(require_caller)], page: Annotated[Page, Depends(TOPICS_PAGE)]
) -> dict[str, Any] | StreamingResponse:
    return paginate(get_engine(), topics.listing(caller.team_id), page, render.topic)


@router.get("/topics/{topic_id}", response_model=Topic, response_model_exclude_none=True, summary="Retrieve a topic")
def get_topic(topic_id: str, caller: Annotated[Caller, Depends(require_caller)]) -> dict[str, Any]:
    return render.topic(_find(caller.team_id, topic_id))


@router.patch("/topics/{topic_id}", response_model=Created, summary="Update a topic's name or description")
def update_topic(topic_id: str, body: TopicUpdate, caller: Annotated[Caller, Depends(require_caller)]) -> dict[str, Any]:
    values: dict[str, Any] = {f: getattr(body, f) for f in ("name", "description", "visibility") if f in body.model_fields_set}
    for required in ("name", "visibility"):
        if values.get(required) is None:
            values.pop(required, None)
    valid_id(topic_id)
    if not topics.update(get_engine(), caller.team_id, topic_id, values):
        raise not_found("Topic")
    return {"object": "topic", "id": topic_id}


@router.delete("/topics/{topic_id}", response_model=Deleted, summary="Delete a topic and its subscriptions")
def delete_topic(topic_id: str, caller: Annotated[Caller, Depends(require_caller)]) -> dict[str, Any]:
    valid_id(topic_id)
    if not topics.delete(get_engine(), caller.team_id, topic_id):
        raise not_found("Topic")
    return {"object": "topic", "id": topic_id, "deleted": True}
