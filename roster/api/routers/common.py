"""Shared response models and helpers of the resource routers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from roster.api.http.errors import ApiError
from schemas.rules import is_uuid


class Deleted(BaseModel):
    object: str
    id: str
    deleted: Literal[True] = True


class Created(BaseModel):
    object: str
    id: str


def valid_id(value: str, name: str = "id") -> str:
    """Resend's answer to an id that is not a UUID: 422 invalid_parameter (not a 404)."""
    if not is_uuid(value):
        raise invalid_id(name)
    return value


def invalid_id(name: str = "id") -> ApiError:
    return ApiError(422, "invalid_parameter", f"The `{name}` must be a valid UUID")
