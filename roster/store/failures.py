"""The failed rows of an import: written while staging, read back for the export.

Read in keyset batches on the primary key (import_id, row_number), each batch its own short
query: not one long server-side cursor, which would hold a pooled connection and an open
transaction for a slow client's whole download.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from roster.store.pages import AnySelect
from schemas import tables as t

f, ci = t.contact_import_failures, t.contact_imports
# psycopg's COPY format for the failures table; the data column is JSON text.
_COPY_COLUMNS = ["import_id", "row_number", "email", "reason", "data"]


def reset(engine: Engine, import_id: str) -> None:
    """Start the rows over: a retried run re-reads the file, so earlier failures go."""
    with engine.begin() as conn:
        conn.execute(sa.delete(f).where(f.c.import_id == import_id))
        conn.execute(sa.update(ci).where(ci.c.id == import_id).values(rows_read=0, staged_rows=None))


def record(engine: Engine, import_id: str, failures: Iterable[dict[str, Any]]) -> int:
    """Write failed rows ({"row", "email", "reason", "values"}); returns how many."""
    rows = [
        (import_id, x["row"], x.get("email"), x["reason"], json.dumps(x.get("values") or {}, ensure_ascii=False))
        for x in failures
    ]
    if not rows:
        return 0
    raw = engine.raw_connection()
    try:
        with raw.driver_connection.cursor() as cur:  # type: ignore[union-attr]  # a live pooled connection has one
            with cur.copy(f"COPY contact_import_failures ({', '.join(_COPY_COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        raw.commit()
    finally:
        raw.close()
    return len(rows)


def count(conn: Connection, import_id: str) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(f).where(f.c.import_id == import_id)).scalar_one()


def _query(import_id: str, team_id: int, columns: list[str] | None = None) -> AnySelect:
    """In primary-key order, so each batch is a range read of the index, never a sort of the rest.
    The team check is a one-time condition on the import, not a join the planner could reorder.
    With `columns`, those keys of the row's data come as text columns (`data ->> key`, the key
    bound as a parameter), so the database, not Python, takes the JSON apart."""
    values = [f.c.data] if columns is None else [f.c.data[k].astext for k in columns]
    return (
        sa.select(f.c.row_number, f.c.email, f.c.reason, *values)
        .where(f.c.import_id == import_id, sa.exists().where(ci.c.id == import_id, ci.c.team_id == team_id))
        .order_by(f.c.import_id, f.c.row_number)
    )


def _index_order(conn: Connection) -> None:
    """Read a batch by walking the primary key. Before the table's statistics catch up with a
    freshly written million failures, the planner guesses a few thousand rows and would rather
    sort all the rows after the cursor for each batch (quadratic over an export)."""
    conn.execute(sa.text("SET LOCAL enable_sort = off"))


def batches(
    engine: Engine, import_id: str, team_id: int, columns: list[str] | None, after: int | None, batch: int
) -> Iterator[list[tuple[Any, ...]]]:
    """Rows (row_number, email, reason, data or the `columns`) after row `after`, `batch` at a time."""
    while True:
        query = _query(import_id, team_id, columns).limit(batch)
        if after is not None:
            query = query.where(f.c.row_number > after)
        with engine.begin() as conn:
            _index_order(conn)
            rows = [tuple(r) for r in conn.execute(query)]
        if rows:
            yield rows
        if len(rows) < batch:
            return
        after = rows[-1][0]


def value_columns(engine: Engine, import_id: str, team_id: int) -> list[str]:
    """The row's own columns: the file's headers as the import read them, plus `raw` when a
    record could not be parsed into fields (its text is kept whole)."""
    with engine.connect() as conn:
        info = conn.execute(sa.select(ci.c.file_info).where(ci.c.id == import_id, ci.c.team_id == team_id)).scalar()
        headers = list((info or {}).get("headers") or [])
        if headers:
            extra = conn.execute(
                sa.select(sa.literal(1)).select_from(f).where(f.c.import_id == import_id, f.c.data.has_key("raw")).limit(1)  # noqa: W601
            ).first()
            return headers + (["raw"] if extra and "raw" not in headers else [])
        # No record of the headers (an import from before they were kept): the keys the rows have.
        keys = sa.func.jsonb_object_keys(f.c.data).table_valued("key")
        found = (
            conn.execute(
                sa.select(keys.c.key)
                .select_from(f)
                .join(keys, sa.true())
                .join(ci, ci.c.id == f.c.import_id)
                .where(f.c.import_id == import_id, ci.c.team_id == team_id)
                .distinct()
            )
            .scalars()
            .all()
        )
    return sorted(found)


# A reason without the row's own value ("... must be a number, got 'abc'" -> "... must be a number"),
# so rows that failed for the same cause are counted together.
_KIND = "CASE WHEN reason LIKE 'invalid email %' THEN 'invalid email' ELSE split_part(reason, ', got ', 1) END"


def by_reason(conn: Connection, import_id: str, samples: int = 3, reasons: int = 10) -> list[dict[str, Any]]:
    """The failed rows by cause, most frequent first ({"reason", "count", "samples": the first
    rows, with their values}), at most `reasons` causes: what a person fixes in the file."""
    rows = conn.execute(
        sa.text(
            f"""
            WITH kinds AS (
              SELECT {_KIND} AS kind, row_number, email, reason, data
              FROM contact_import_failures WHERE import_id = :id
            ), top AS (
              SELECT kind, count(*) AS n FROM kinds GROUP BY kind ORDER BY n DESC, kind LIMIT :reasons
            ), firsts AS (
              SELECT kinds.*, row_number() OVER (PARTITION BY kinds.kind ORDER BY kinds.row_number) AS k
              FROM kinds JOIN top USING (kind)
            )
            SELECT top.kind, top.n, firsts.row_number, firsts.email, firsts.reason, firsts.data
            FROM top JOIN firsts ON firsts.kind = top.kind AND firsts.k <= :samples
            ORDER BY top.n DESC, top.kind, firsts.row_number
            """
        ),
        {"id": import_id, "reasons": reasons, "samples": samples},
    ).all()
    out: dict[str, dict[str, Any]] = {}
    for kind, n, row_number, email, reason, data in rows:
        group = out.setdefault(kind, {"reason": kind, "count": n, "samples": []})
        group["samples"].append({"row_number": row_number, "email": email, "reason": reason, "data": data})
    return list(out.values())
