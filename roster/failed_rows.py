"""The failed rows of an import, exported: the one place the API and `roster imports failures` read them.

Flat memory whatever the count: rows are read in keyset batches on the table's primary key
(import_id, row_number), each batch its own short query. Not one long server-side cursor: a slow
client would then hold a pooled connection and an open transaction for the whole download, and a
few slow clients could starve every other team of connections.

The CSV is what an operator opens in a spreadsheet "to fix and re-import", so every cell that a
spreadsheet would run as a formula is neutralised (OWASP's CSV-injection advice), header names
included. The JSON is data for programs and is left as it was in the file.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from schemas import tables as t

# A cell starting with one of these is a formula to Excel, LibreOffice or Google Sheets
# (TAB and CR too: some strip them and then read what follows).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
BATCH = 2000
# The columns Roster adds in front of the row's own; renamed when the file has a column of that name.
FIXED = ("row_number", "email", "reason")


def formula_safe(value) -> str:
    """The cell as text, with a leading single quote when a spreadsheet would run it as a formula.
    The quote makes the cell text; the visible value is unchanged. (A negative number such as -5
    is shown as '-5 too: that is OWASP's trade-off, and the value is text in this file anyway.)"""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def fixed_names(value_columns: list[str]) -> list[str]:
    """Names for row_number, email and reason that no column of the file already has, so the
    file's own columns keep their names (the export re-imports with the same column map)."""
    taken = set(value_columns)
    out = []
    for name in FIXED:
        while name in taken:
            name = f"failure_{name}"
        taken.add(name)
        out.append(name)
    return out


def _failures(import_id: str, team_id: int, columns: list[str] | None = None) -> sa.Select:
    """In primary-key order, so each batch is a range read of the index, never a sort of the rest.
    The team check is a one-time condition on the import, not a join the planner could reorder.
    With `columns`, those keys of the row's data come as text columns (`data ->> key`, the key
    bound as a parameter), so the database, not Python, takes the JSON apart."""
    f, ci = t.contact_import_failures, t.contact_imports
    values = [f.c.data] if columns is None else [f.c.data[k].astext for k in columns]
    return (
        sa.select(f.c.row_number, f.c.email, f.c.reason, *values)
        .where(f.c.import_id == import_id, sa.exists().where(ci.c.id == import_id, ci.c.team_id == team_id))
        .order_by(f.c.import_id, f.c.row_number)
    )


def _index_order(conn) -> None:
    """Read a batch by walking the primary key. Before the table's statistics catch up with a
    freshly written million failures, the planner guesses a few thousand rows and would rather
    sort all the rows after the cursor for each batch (quadratic over an export)."""
    conn.execute(sa.text("SET LOCAL enable_sort = off"))


def _batches(engine: Engine, import_id: str, team_id: int, columns: list[str] | None, after: int | None,
             batch: int) -> Iterator[list[tuple]]:
    f = t.contact_import_failures
    while True:
        query = _failures(import_id, team_id, columns).limit(batch)
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


def iter_failures(engine: Engine, import_id: str, team_id: int, after: int | None = None,
                  batch: int = BATCH) -> Iterator[dict]:
    """Every failed row after row `after`, in row order, `batch` at a time from the database:
    {"row_number", "email", "reason", "data"}."""
    for rows in _batches(engine, import_id, team_id, None, after, batch):
        for number, email, reason, data in rows:
            yield {"row_number": number, "email": email, "reason": reason, "data": data}


def page(engine: Engine, import_id: str, team_id: int, limit: int, after: int | None) -> dict:
    """One page of the JSON list: {"object": "list", "has_more", "data"}; `after` is a row_number."""
    f = t.contact_import_failures
    query = _failures(import_id, team_id).limit(limit + 1)
    if after is not None:
        query = query.where(f.c.row_number > after)
    with engine.begin() as conn:
        _index_order(conn)
        rows = conn.execute(query).mappings().all()
    return {"object": "list", "has_more": len(rows) > limit, "data": [
        {"row_number": int(r["row_number"]), "email": r["email"], "reason": r["reason"], "data": r["data"] or {}}
        for r in rows[:limit]
    ]}


def value_columns(engine: Engine, import_id: str, team_id: int) -> list[str]:
    """The row's own columns: the file's headers as the import read them, plus `raw` when a
    record could not be parsed into fields (its text is kept whole)."""
    f, ci = t.contact_import_failures, t.contact_imports
    with engine.connect() as conn:
        info = conn.execute(
            sa.select(ci.c.file_info).where(ci.c.id == import_id, ci.c.team_id == team_id)
        ).scalar()
        headers = list((info or {}).get("headers") or [])
        if headers:
            extra = conn.execute(
                sa.select(sa.literal(1)).select_from(f)
                .where(f.c.import_id == import_id, f.c.data.has_key("raw")).limit(1)  # noqa: W601
            ).first()
            return headers + (["raw"] if extra and "raw" not in headers else [])
        # No record of the headers (an import from before they were kept): the keys the rows have.
        keys = sa.func.jsonb_object_keys(f.c.data).table_valued("key")
        found = conn.execute(
            sa.select(keys.c.key).select_from(f).join(keys, sa.true())
            .join(ci, ci.c.id == f.c.import_id)
            .where(f.c.import_id == import_id, ci.c.team_id == team_id).distinct()
        ).scalars().all()
    return sorted(found)


def csv_chunks(engine: Engine, import_id: str, team_id: int) -> Iterator[str]:
    """The failed rows as CSV text, a batch of rows per chunk: fixed columns, then the row's own."""
    columns = value_columns(engine, import_id, team_id)
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow([formula_safe(c) for c in fixed_names(columns) + columns])
    for rows in _batches(engine, import_id, team_id, columns, None, BATCH):
        writer.writerows([number, *map(formula_safe, rest)] for number, *rest in rows)
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
    yield buf.getvalue()


def write_csv(engine: Engine, import_id: str, team_id: int, out) -> None:
    for chunk in csv_chunks(engine, import_id, team_id):
        out.write(chunk)
