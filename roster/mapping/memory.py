"""Remembered mappings: the column map a person accepted (an import run with an explicit map, or
a reviewed suggestion), per team, keyed by the set of headers; preferred next time (engine "memory").

This module says which maps are worth keeping; the rows are kept by roster/store/mappings.py."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from roster.store import mappings
from roster.store.mappings import forget, headers_key

from .system_columns import is_error_column

__all__ = ["forget", "headers_key", "recall", "remember"]


def recall(engine: Engine, team_id: int, headers: list[str]) -> dict[str, Any] | None:
    """The map kept for these headers; for a failed-rows download (the original headers plus
    `roster_error`), the original import's map, so fixing the rows and importing them again takes
    no mapping work. The map names no `roster_error`, so that column is left out."""
    found = mappings.recall(engine, team_id, headers)
    if found is None and any(is_error_column(h) for h in headers):
        found = mappings.recall(engine, team_id, [h for h in headers if not is_error_column(h)])
    return found


def remember(engine: Engine, team_id: int, headers: list[str], column_map: dict[str, Any], source: str) -> None:
    """Only a map that names its email column is kept: every key of a map is optional, and a
    partial one leans on the standard headers or the engines, so replayed alone it would drop
    the columns they found (and a file with no `email` header would be refused)."""
    if not column_map.get("email"):
        return
    mappings.save(engine, team_id, headers, column_map, source)
