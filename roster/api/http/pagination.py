"""Cursor pagination as Resend does it: `limit` (1-100), `after` or `before` an object id
(excluded from the page; never both); newest first. Keyset on (created_at, id).

When `limit` is left out, each list does what Resend's does: imports 10, contact properties 20,
and contacts, segments, topics, webhooks and a contact's segments and topics every object (code
like "find the segment named X, else create it" relies on that; Resend's Node SDK, CLI and MCP
server list topics with no cursor at all). "Every object" is streamed: one query read
through a server-side cursor in batches, written out as it is read, so the server's memory stays
flat whatever the count.

The queries are the store's (roster/store/pages.py); this module reads the parameters and writes
the response."""
# No `from __future__ import annotations`: page_params builds its annotations at call time.

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Query
from fastapi.responses import StreamingResponse
from sqlalchemy.engine import Engine

from roster.api.http.errors import ApiError
from roster.store import pages
from roster.store.pages import Listing
from schemas.rules import is_uuid

log = logging.getLogger("roster.api")
STREAM_BATCH_ROWS = 1000


@dataclass(frozen=True)
class Page:
    limit: int | None  # None: every object (streamed)
    after: str | None
    before: str | None


def page_params(default: int | None) -> Callable[..., Page]:
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
PROPERTIES_PAGE = page_params(20)
EVERY_OBJECT = TOPICS_PAGE = page_params(None)


# How a list shows one row: the object in the API's shape.
Render = Callable[[dict[str, Any]], Mapping[str, Any]]


def paginate(engine: Engine, listing: Listing, page: Page, render: Render) -> dict[str, Any] | StreamingResponse:
    """A page of the listed objects as a dict; every object (no limit) as a streamed response,
    whose query runs on a connection of its own once the response starts."""
    try:
        listing = pages.narrowed(engine, listing, page.after, page.before)
    except pages.UnknownCursor:
        cursor = page.after or page.before
        raise ApiError(422, "validation_error", f"`{'after' if page.after else 'before'}`: no object with id {cursor}") from None
    if page.limit is None:
        return StreamingResponse(_stream(engine, listing, render), media_type="application/json")
    rows, has_more = pages.read(engine, listing, page.limit, nearest_newer=bool(page.before))
    return {"object": "list", "has_more": has_more, "data": [render(r) for r in rows]}


def _stream(engine: Engine, listing: Listing, render: Render) -> Iterator[bytes]:
    """{"object": "list", "data": [...], "has_more": false}, written batch by batch as it is read:
    the connection is held while the client reads."""
    yield b'{"object":"list","data":['
    first = True
    try:
        for batch in pages.stream(engine, listing, STREAM_BATCH_ROWS):
            text = ",".join(json.dumps(render(r), ensure_ascii=False, separators=(",", ":")) for r in batch)
            yield (text if first else "," + text).encode()
            first = False
    except Exception:
        # The status line is gone already: the client sees a cut-off body, the log says why.
        log.exception("streaming a list failed")
        raise
    yield b'],"has_more":false}'
