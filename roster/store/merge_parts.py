"""A big import's merge in parts: the bookkeeping that keeps it exactly once.

The merge (roster/store/merge.py) of an import of at least ROSTER_MERGE_PARTS_FROM_ROWS staged
rows splits the stage by a hash of the email key into PARTS parts and merges each in its own
transaction on its own connection, at the same time: PostgreSQL runs one statement on one core,
so two parts use both. Each part's transaction writes the part's row here (with its counts) in
the same commit as its contacts, so a retry after a crash merges only the parts without a row;
the import's counts and merged_at are written once every part has one, from their sum, by the
transaction that deletes them. The parts touch disjoint contacts (one email key is in one part),
so they never wait on each other's rows.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from roster.runtime import settings
from schemas import tables as t

mp = t.import_merge_parts
PARTS = 2  # the cores of a small machine; also what key_filter splits into
COUNTS = ("created", "updated", "segments", "topics", "kept_unsubscribed", "kept_topic_opt_outs", "webhook_events")
T = TypeVar("T")


def key_filter(email: str, part: int) -> str:
    """SQL true for the rows of part `part` (0 or 1): by the sign of a hash of lower(email), the
    key the contacts' unique index uses, so every row of one contact falls in one part. A single
    inequality, so the planner, without statistics for the expression, takes each part for a third
    of the rows (an equality, `hash % 2 = part`, it takes for 0.5%, and then joins a million rows
    by nested loops: minutes instead of seconds)."""
    return f"hashtext(lower({email})) {'<' if part == 0 else '>='} 0"


def planned(conn: Connection, import_id: str, staged_rows: int) -> int:
    """How many parts this import's merge has: as many as an earlier attempt began with (a retry
    must split the stage the same way), else PARTS from ROSTER_MERGE_PARTS_FROM_ROWS staged rows,
    else 1 (the single statement)."""
    earlier = conn.execute(sa.select(mp.c.parts).where(mp.c.import_id == import_id).limit(1)).scalar()
    if earlier:
        return int(earlier)
    threshold = settings.merge_parts_from_rows()
    return PARTS if threshold and staged_rows >= threshold else 1


def begun(conn: Connection, import_id: str) -> bool:
    """Whether a part of the import's merge has committed: its contacts are partly written."""
    return bool(conn.execute(sa.select(sa.exists().where(mp.c.import_id == import_id))).scalar())


def done(conn: Connection, import_id: str, part: int) -> bool:
    return bool(conn.execute(sa.select(sa.exists().where(mp.c.import_id == import_id, mp.c.part == part))).scalar())


def record(conn: Connection, import_id: str, part: int, parts: int, merged: sa.Row[*tuple[Any, ...]]) -> None:
    """The part is done, with its counts: in the part's own transaction."""
    conn.execute(sa.insert(mp).values(import_id=import_id, part=part, parts=parts, **{k: merged._mapping[k] for k in COUNTS}))


def summed(conn: Connection, import_id: str) -> sa.Row[*tuple[Any, ...]]:
    """The parts' counts added up (columns as the merge statement's row), and `parts_done`."""
    return conn.execute(
        sa.select(
            sa.func.count().label("parts_done"),
            *(sa.func.coalesce(sa.func.sum(mp.c[k]), 0).cast(sa.BigInteger).label(k) for k in COUNTS),
        ).where(mp.c.import_id == import_id)
    ).one()


def clear(conn: Connection, import_id: str) -> None:
    """In the transaction that records the import's counts: the parts are no longer needed."""
    conn.execute(sa.delete(mp).where(mp.c.import_id == import_id))


def run_at_once(tasks: list[Callable[[], T]]) -> list[T]:
    """Each task in a thread of its own (each takes its own connection; psycopg lets the others run
    while one waits on the database). All are waited for, so a part that can commit does; then the
    first error, if any, is raised."""
    with ThreadPoolExecutor(max_workers=len(tasks), thread_name_prefix="merge-part") as pool:
        futures = [pool.submit(task) for task in tasks]
        errors = [f.exception() for f in futures]
    for error in errors:
        if error is not None:
            raise error
    return [f.result() for f in futures]
