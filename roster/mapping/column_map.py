"""Suggestions -> the import API's column_map (Resend's shape plus the invert extension)."""

from __future__ import annotations

from typing import Any

from schemas.rules import CORE_FIELDS

from .models import Suggestion


def to_column_map(suggestions: list[Suggestion]) -> dict[str, Any]:
    """Build {"email": header, ..., "properties": {key: {"column", "type"}}}; ignored columns are left out.

    If two suggestions claim one field (possible when suggestions were edited by hand), the
    first wins: the API accepts one column per field.
    """
    cmap: dict[str, Any] = {}
    props: dict[str, Any] = {}
    for s in suggestions:
        if s.target in CORE_FIELDS:
            cmap.setdefault(s.target, s.column)
        elif s.target == "unsubscribed":
            cmap.setdefault("unsubscribed", {"column": s.column, "invert": True} if s.invert else s.column)
        elif s.target == "property" and s.property_key:
            props.setdefault(s.property_key, {"column": s.column, "type": s.property_type or "string"})
    if props:
        cmap["properties"] = props
    return cmap
