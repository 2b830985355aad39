"""Cursor pagination as Resend does it: `limit` (1-100), `after` or `before` an object id
(excluded from the page; never both); newest first. Keyset on (created_at, id).

When `limit` is left out, each list does what Resend's does: imports 10, contact properties and
topics 20, and contacts, segments and a contact's segments and topics every object (code like "find
the segment named X, else create it" relies on that). "Every object" is streamed: one query read
through a server-side cursor in batches, written out as it is read, so the server's memory stays
flat whatever the count."""
# No `from __future__ import annotations`: page_params builds its annotations at call time.

import json
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

import sqlalchemy as sa
from fastapi import Query
from fastapi.responses import StreamingResponse

from roster.api.http.errors import ApiError

log = logging.getLogger("roster.api")
STREAM_BATCH_ROWS = 1000


@dataclass(frozen=True)
class Page:
    limit: int | None  # None: every object (streamed)
    after: str | None
    before: str | None


def page_params(default: int | None):
    """The query parameters of a list whose page size, when `limit` is left out, is `default`
    (None: every object)."""
    described = f"default {default}" if default else "left out: every object, in one response"

    def params(
        limit: Annotated[int | None, Query(ge=1, le=100, description=f"How many objects to return (1-100; {described}).")] = None,
        after: Annotated[str | None, Query(description="An object id: return the objects after it (older).")] = None,
        before: Annotated[str | None, Query(description="An object id: return the objects before it (newer).")] = None,
    ) -> Page:
        if after and before:
            raise ApiError(422, "validation_error", "`after` and `before` cannot be used together")
        for name, value in (("after", after), ("before", before)):
            if value is not None and not is_uuid(value):
                raise ApiError(422, "validation_error", f"`{name}` must be an object id")
        return Page(limit=limit if limit is not None else default, after=after, before=before)

    return params


# The page sizes Resend's lists use when the caller gives no `limit`.
IMPORTS_PAGE = page_params(10)
PROPERTIES_PAGE = TOPICS_PAGE = page_params(20)
EVERY_OBJECT = page_params(None)


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
) -> dict | StreamingResponse:
    """`query` selects the rows (already scoped to the team and filtered); `cursor_query(id)` finds
    the cursor's created_at among the same objects. A page is a dict; every object (no limit) is a
    streamed response, whose query runs on a connection of its own once the response starts."""
    cursor = page.after or page.before
    if cursor:
        found = conn.execute(cursor_query(cursor)).first()
        if found is None:
            raise ApiError(422, "validation_error", f"`{'after' if page.after else 'before'}`: no object with id {cursor}")
        key = sa.tuple_(created_at, id_col)
        mark = sa.tuple_(sa.literal(found[0], type_=created_at.type), sa.literal(uuid.UUID(cursor), type_=id_col.type))
        query = query.where(key < mark) if page.after else query.where(key > mark)
    if page.limit is None:
        return StreamingResponse(_stream(query.order_by(created_at.desc(), id_col.desc()), render), media_type="application/json")
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


def _stream(query: sa.Select, render: Callable[[dict], dict]) -> Iterator[bytes]:
    """{"object": "list", "data": [...], "has_more": false}, written batch by batch. One query (one
    sort), read through a server-side cursor: the connection is held while the client reads."""
    from roster.database import get_engine

    yield b'{"object":"list","data":['
    first = True
    try:
        with get_engine().connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=STREAM_BATCH_ROWS).execute(query)
            for batch in result.mappings().partitions():
                text = ",".join(json.dumps(render(dict(r)), ensure_ascii=False, separators=(",", ":")) for r in batch)
                yield (text if first else "," + text).encode()
                first = False
    except Exception:
        # The status line is gone already: the client sees a cut-off body, the log says why.
        log.exception("streaming a list failed")
        raise
    yield b'],"has_more":false}'
