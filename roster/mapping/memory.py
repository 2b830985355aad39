"""Remembered mappings: the column map a person accepted (an import run with an explicit map, or
a reviewed suggestion), per team, keyed by the set of headers; preferred next time (engine "memory")."""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Engine


def headers_key(headers: list[str]) -> str:
    """The same columns in any order are the same file shape."""
    return hashlib.sha256(json.dumps(sorted(set(headers)), ensure_ascii=False).encode()).hexdigest()


def _table():
    from schemas.tables import column_mappings

    return column_mappings


def remember(engine: Engine, team_id: int, headers: list[str], column_map: dict, source: str) -> None:
    """Only a map that names its email column is kept: every key of a map is optional, and a
    partial one leans on the standard headers or the engines, so replayed alone it would drop
    the columns they found (and a file with no `email` header would be refused)."""
    if not column_map.get("email"):
        return
    t = _table()
    values = dict(
        team_id=team_id, headers_key=headers_key(headers), headers=sorted(set(headers)), column_map=column_map, source=source
    )
    stmt = insert(t).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[t.c.team_id, t.c.headers_key],
        set_={"column_map": stmt.excluded.column_map, "source": stmt.excluded.source, "updated_at": sa.func.now()},
    )
    with engine.begin() as conn:
        conn.execute(stmt)


def recall(engine: Engine, team_id: int, headers: list[str]) -> dict | None:
    """The accepted column map for exactly these headers, if every column it names is still there."""
    t = _table()
    with engine.connect() as conn:
        cmap = conn.execute(
            sa.select(t.c.column_map).where(t.c.team_id == team_id, t.c.headers_key == headers_key(headers))
        ).scalar_one_or_none()
    return cmap or None


def forget(engine: Engine, team_id: int, headers: list[str]) -> None:
    t = _table()
    with engine.begin() as conn:
        conn.execute(sa.delete(t).where(t.c.team_id == team_id, t.c.headers_key == headers_key(headers)))
