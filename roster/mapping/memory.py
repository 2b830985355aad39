"""Remembered mappings: the column map a person accepted (an import run with an explicit map, or
a reviewed suggestion), per team, keyed by the set of headers; preferred next time (engine "memory").

This module says which maps are worth keeping; the rows are kept by roster/store/mappings.py."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from roster.store import mappings
from roster.store.mappings import forget, headers_key, recall

__all__ = ["forget", "headers_key", "recall", "remember"]


def remember(engine: Engine, team_id: int, headers: list[str], column_map: dict, source: str) -> None:
    """Only a map that names its email column is kept: every key of a map is optional, and a
    partial one leans on the standard headers or the engines, so replayed alone it would drop
    the columns they found (and a file with no `email` header would be refused)."""
    if not column_map.get("email"):
        return
    mappings.save(engine, team_id, headers, column_map, source)
