"""Uploaded files kept in PostgreSQL, as ordered chunks of at most 1 MiB (the landed_files table).

Written in one transaction, so a reader sees the whole file or none of it; read back one chunk at
a time through a server-side cursor, so neither side ever holds the file whole. Keyed by the
import's id, which the server made: nothing here comes from a file.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from schemas import tables as t

lf = t.landed_files


def _id(import_id: str) -> uuid.UUID:
    return uuid.UUID(str(import_id))


def write(engine: Engine, import_id: str, chunks: Iterable[bytes]) -> int:
    """Replace the import's file with these chunks; returns the bytes written."""
    written = 0
    with engine.begin() as conn:
        conn.execute(sa.delete(lf).where(lf.c.import_id == _id(import_id)))
        for seq, chunk in enumerate(chunks):
            conn.execute(sa.insert(lf).values(import_id=_id(import_id), seq=seq, data=chunk))
            written += len(chunk)
    return written


def read(engine: Engine, import_id: str) -> Iterator[bytes]:
    """The file's chunks in order (none if it is not stored)."""
    query = sa.select(lf.c.data).where(lf.c.import_id == _id(import_id)).order_by(lf.c.seq)
    with engine.connect() as conn:
        for row in conn.execution_options(stream_results=True, yield_per=1).execute(query):
            yield bytes(row.data)


def exists(engine: Engine, import_id: str) -> bool:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.literal(1)).where(lf.c.import_id == _id(import_id)).limit(1)).first() is not None


def delete(engine: Engine, import_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.delete(lf).where(lf.c.import_id == _id(import_id)))


def stored(engine: Engine) -> list[tuple[str, float]]:
    """(import id, when stored, as a Unix time) of every stored file, for the retention sweep."""
    query = sa.select(lf.c.import_id, sa.func.extract("epoch", sa.func.max(lf.c.created_at))).group_by(lf.c.import_id)
    with engine.connect() as conn:
        return [(str(i), float(when)) for i, when in conn.execute(query)]
