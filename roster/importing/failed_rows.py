"""The failed rows of an import, exported: the one place the API and `roster imports failures` read them.

Flat memory whatever the count: rows are read in keyset batches (roster/store/failures.py), each
batch its own short query, so a slow client never holds a connection for its whole download.

The CSV is what an operator opens in a spreadsheet "to fix and re-import", so every cell that a
spreadsheet would run as a formula is neutralised (OWASP's CSV-injection advice), header names
included. The JSON is data for programs and is left as it was in the file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from sqlalchemy.engine import Engine

from roster.store import failures

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


def iter_failures(engine: Engine, import_id: str, team_id: int, after: int | None = None, batch: int = BATCH) -> Iterator[dict]:
    """Every failed row after row `after`, in row order, `batch` at a time from the database:
    {"row_number", "email", "reason", "data"}."""
    for rows in failures.batches(engine, import_id, team_id, None, after, batch):
        for number, email, reason, data in rows:
            yield {"row_number": number, "email": email, "reason": reason, "data": data}


def page(engine: Engine, import_id: str, team_id: int, limit: int, after: int | None) -> dict:
    """One page of the JSON list: {"object": "list", "has_more", "data"}; `after` is a row_number."""
    rows = next(failures.batches(engine, import_id, team_id, None, after, limit + 1), [])
    return {
        "object": "list",
        "has_more": len(rows) > limit,
        "data": [
            {"row_number": int(number), "email": email, "reason": reason, "data": data or {}}
            for number, email, reason, data in rows[:limit]
        ],
    }


def csv_chunks(engine: Engine, import_id: str, team_id: int) -> Iterator[str]:
    """The failed rows as CSV text, a batch of rows per chunk: fixed columns, then the row's own."""
    columns = failures.value_columns(engine, import_id, team_id)
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow([formula_safe(c) for c in fixed_names(columns) + columns])
    for rows in failures.batches(engine, import_id, team_id, columns, None, BATCH):
        writer.writerows([number, *map(formula_safe, rest)] for number, *rest in rows)
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
    yield buf.getvalue()


def write_csv(engine: Engine, import_id: str, team_id: int, out) -> None:
    for chunk in csv_chunks(engine, import_id, team_id):
        out.write(chunk)
