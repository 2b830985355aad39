"""Remembered mappings (column_mappings): the column map a team accepted for a set of headers,
keyed by those headers in any order. What is worth remembering is roster/mapping/memory.py's call."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Engine

from schemas import tables as t

m = t.column_mappings


def headers_key(headers: list[str]) -> str:
    """The same columns in any order are the same file shape."""
    return hashlib.sha256(json.dumps(sorted(set(headers)), ensure_ascii=False).encode()).hexdigest()


def save(engine: Engine, team_id: int, headers: list[str], column_map: dict[str, Any], source: str) -> None:
    """Keep `column_map` for these headers, replacing the one kept before."""
    values = dict(
        team_id=team_id, headers_key=headers_key(headers), headers=sorted(set(headers)), column_map=column_map, source=source
    )
    stmt = insert(m).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[m.c.team_id, m.c.headers_key],
        set_={"column_map": stmt.excluded.column_map, "source": stmt.excluded.source, "updated_at": sa.func.now()},
    )
    with engine.begin() as conn:
        conn.execute(stmt)


def recall(engine: Engine, team_id: int, headers: list[str]) -> dict[str, Any] | None:
    """The column map kept for exactly these headers, or None."""
    with engine.connect() as conn:
        cmap = conn.execute(
            sa.select(m.c.column_map).where(m.c.team_id == team_id, m.c.headers_key == headers_key(headers))
        ).scalar_one_or_none()
    return cmap or None


def forget(engine: Engine, team_id: int, headers: list[str]) -> None:
    with engine.begin() as conn:
        conn.execute(sa.delete(m).where(m.c.team_id == team_id, m.c.headers_key == headers_key(headers)))
