"""Reading a list a page at a time, newest first: keyset pagination on (created_at, id).

A store module describes the objects a list shows as a Listing (its query, already scoped to the
team and filtered); these functions narrow it to the objects after or before a cursor, read one
page, or read every object through a server-side cursor in batches."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

# A SELECT of any columns (SQLAlchemy types a Select by its columns' types).
AnySelect = sa.Select[*tuple[Any, ...]]


@dataclass(frozen=True)
class Listing:
    """`query` selects the objects (scoped to the team, filtered); `cursor(id)` selects the
    created_at of the object with that id among the same objects (nothing if it is not one)."""

    query: AnySelect
    created_at: sa.ColumnElement[Any]
    id: sa.ColumnElement[Any]
    cursor: Callable[[str], AnySelect]


class UnknownCursor(LookupError):
    """The `after`/`before` id is not one of the listed objects."""


def narrowed(engine: Engine, listing: Listing, after: str | None, before: str | None) -> Listing:
    """The objects after (older than) or before (newer than) the cursor, which is left out.
    Raises UnknownCursor."""
    cursor = after or before
    if not cursor:
        return listing
    with engine.connect() as conn:
        found = conn.execute(listing.cursor(cursor)).first()
    if found is None:
        raise UnknownCursor(cursor)
    key = sa.tuple_(listing.created_at, listing.id)
    mark = sa.tuple_(sa.literal(found[0], type_=listing.created_at.type), sa.literal(uuid.UUID(cursor), type_=listing.id.type))
    return replace(listing, query=listing.query.where(key < mark) if after else listing.query.where(key > mark))


def read(engine: Engine, listing: Listing, limit: int, nearest_newer: bool = False) -> tuple[list[dict[str, Any]], bool]:
    """(up to `limit` objects newest first, whether there are more). `nearest_newer`: the `limit`
    oldest of them (a page `before` a cursor), still returned newest first."""
    if nearest_newer:
        query = listing.query.order_by(listing.created_at.asc(), listing.id.asc())
    else:
        query = listing.query.order_by(listing.created_at.desc(), listing.id.desc())
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query.limit(limit + 1)).mappings().all()]
    has_more = len(rows) > limit
    rows = rows[:limit]
    if nearest_newer:
        rows.reverse()
    return rows, has_more


def stream(engine: Engine, listing: Listing, batch_rows: int) -> Iterator[list[dict[str, Any]]]:
    """Every object, newest first, in batches: one query (one sort) read through a server-side
    cursor, its connection held until the last batch is taken."""
    query = listing.query.order_by(listing.created_at.desc(), listing.id.desc())
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=batch_rows).execute(query)
        for batch in result.mappings().partitions():
            yield [dict(r) for r in batch]
