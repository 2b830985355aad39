"""Shared response models and helpers of the resource routers."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from roster.api.errors import not_found
from roster.api.pagination import is_uuid


class Deleted(BaseModel):
    object: str
    id: str
    deleted: Literal[True] = True


class Created(BaseModel):
    object: str
    id: str


def uuid_or_404(value: str, what: str) -> str:
    if not is_uuid(value):
        raise not_found(what)
    return value
