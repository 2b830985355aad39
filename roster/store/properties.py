"""Contact properties: a team's keys, their types and fallback values. A contact's values live in
contacts.properties (JSONB), keyed by these keys."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection, Engine

from roster.store.pages import Listing
from schemas import tables as t

p = t.contact_properties


def types(engine: Engine, team_id: int, keys: list[str] | None = None) -> dict[str, str]:
    """{key: type} of the team's properties (of those among `keys`, when given)."""
    query = sa.select(p.c.key, p.c.type).where(p.c.team_id == team_id)
    if keys is not None:
        query = query.where(p.c.key.in_(keys))
    with engine.connect() as conn:
        return dict(conn.execute(query).all())


def by_key(engine: Engine, team_id: int) -> list[tuple[str, str]]:
    """[(key, type)] of the team's properties, ordered by key (as the database sorts text)."""
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(p.c.key, p.c.type).where(p.c.team_id == team_id).order_by(p.c.key))]


def create_missing(engine: Engine, team_id: int, wanted: dict[str, str]) -> list[str]:
    """Create the keys the team lacks, typed; returns those created. Safe to repeat."""
    with engine.begin() as conn:
        return create_missing_in(conn, team_id, wanted)


def create_missing_in(conn: Connection, team_id: int, wanted: dict[str, str]) -> list[str]:
    """create_missing in the caller's transaction (the merge's: an import that writes no contact
    creates no property)."""
    if not wanted:
        return []
    created = (
        conn.execute(
            insert(p)
            .values([{"team_id": team_id, "key": k, "type": v} for k, v in sorted(wanted.items())])
            .on_conflict_do_nothing(index_elements=["team_id", "key"])
            .returning(p.c.key)
        )
        .scalars()
        .all()
    )
    return sorted(created)


def missing(engine: Engine, team_id: int, wanted: dict[str, str]) -> list[str]:
    """The keys of `wanted` the team has no property for: what an import would create."""
    return sorted(set(wanted) - set(types(engine, team_id, list(wanted)))) if wanted else []


def create(engine: Engine, team_id: int, key: str, type_: str, fallback_value: Any) -> str | None:
    """The new property's id; None if the team has a property with this key already."""
    with engine.begin() as conn:
        new_id = conn.execute(
            insert(p)
            .values(team_id=team_id, key=key, type=type_, fallback_value=fallback_value)
            .on_conflict_do_nothing(index_elements=["team_id", "key"])
            .returning(p.c.id)
        ).scalar()
    return None if new_id is None else str(new_id)


def _get(conn: Connection, team_id: int, property_id: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(p).where(p.c.id == property_id, p.c.team_id == team_id)).mappings().first()
    return dict(row) if row else None


def get(engine: Engine, team_id: int, property_id: str) -> dict[str, Any] | None:
    """The property's row, or None. `property_id` must be a UUID."""
    with engine.connect() as conn:
        return _get(conn, team_id, property_id)


def listing(team_id: int) -> Listing:
    return Listing(
        sa.select(p).where(p.c.team_id == team_id),
        p.c.created_at,
        p.c.id,
        lambda pid: sa.select(p.c.created_at).where(p.c.id == pid, p.c.team_id == team_id),
    )


def set_fallback(engine: Engine, team_id: int, property_id: str, value: Any) -> None:
    """The value a contact without one shows (None: no fallback, SQL NULL rather than JSON null)."""
    with engine.begin() as conn:
        conn.execute(
            sa.update(p)
            .where(p.c.id == property_id, p.c.team_id == team_id)
            .values(fallback_value=sa.null() if value is None else value)
        )


def delete(engine: Engine, team_id: int, property_id: str) -> bool:
    """The property and its values on the team's contacts, together. False: the team has no such property."""
    c = t.contacts
    with engine.begin() as conn:
        row = _get(conn, team_id, property_id)
        if row is None:
            return False
        conn.execute(
            sa.update(c)
            .where(c.c.team_id == team_id, c.c.properties.has_key(row["key"]))
            .values(properties=c.c.properties - row["key"], version=c.c.version + 1)  # an import's undo leaves these alone
        )
        conn.execute(sa.delete(p).where(p.c.id == property_id, p.c.team_id == team_id))
    return True
