"""Cursor pagination as Resend does it: `limit` (1-100), `after` or `before` an object id
(excluded from the page; never both); newest first. Keyset on (created_at, id)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Callable

import sqlalchemy as sa
from fastapi import Query

from roster.api.errors import ApiError


@dataclass(frozen=True)
class Page:
    limit: int
    after: str | None
    before: str | None


def page_params(
    limit: Annotated[int, Query(ge=1, le=100, description="How many objects to return (1-100).")] = 10,
    after: Annotated[str | None, Query(description="An object id: return the objects after it (older).")] = None,
    before: Annotated[str | None, Query(description="An object id: return the objects before it (newer).")] = None,
) -> Page:
    if after and before:
        raise ApiError(422, "validation_error", "`after` and `before` cannot be used together")
    for name, value in (("after", after), ("before", before)):
        if value is not None and not is_uuid(value):
            raise ApiError(422, "validation_error", f"`{name}` must be an object id")
    return Page(limit=limit, after=after, before=before)


def is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
        return True
    except (ValueError, TypeError, AttributeError):
        return False


def paginate(
    conn,
    query: sa.Select,
    created_at: sa.ColumnElement,
    id_col: sa.ColumnElement,
    page: Page,
    cursor_query: Callable[[str], sa.Select],
    render: Callable[[dict], dict],
) -> dict:
    """`query` selects the rows (already scoped to the team and filtered); `cursor_query(id)` finds
    the cursor's created_at among the same objects."""
    cursor = page.after or page.before
    if cursor:
        found = conn.execute(cursor_query(cursor)).first()
        if found is None:
            raise ApiError(422, "validation_error", f"`{'after' if page.after else 'before'}`: no object with id {cursor}")
        key = sa.tuple_(created_at, id_col)
        mark = sa.tuple_(sa.literal(found[0], type_=created_at.type), sa.literal(uuid.UUID(cursor), type_=id_col.type))
        query = query.where(key < mark) if page.after else query.where(key > mark)
    if page.before:
        query = query.order_by(created_at.asc(), id_col.asc())
    else:
        query = query.order_by(created_at.desc(), id_col.desc())
    rows = [dict(r) for r in conn.execute(query.limit(page.limit + 1)).mappings().all()]
    has_more = len(rows) > page.limit
    rows = rows[: page.limit]
    if page.before:
        rows.reverse()
    return {"object": "list", "has_more": has_more, "data": [render(r) for r in rows]}
