"""The failed rows of an import, exported: the one place the API and `roster imports failures` read them.

Flat memory whatever the count: rows are read in keyset batches (roster/store/failures.py), each
batch its own short query, so a slow client never holds a connection for its whole download.

The CSV is what an operator opens in a spreadsheet to fix and import again: the row's own columns
under the file's own headers, in the file's order, values as they were, then one column,
`roster_error`, saying which row failed and why. Re-uploaded, the file maps as the original did:
the engines leave `roster_error` out, and the mapping remembered for the original headers is found
for these headers too (roster/mapping/memory.py). Every cell a spreadsheet would run as a formula
is neutralised (OWASP's CSV-injection advice), header names included; a plain number (-12.9145)
or a phone number (+1 (415) 555-0100) is not a formula and is left as it was. The JSON is data
for programs and is left as it was in the file.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import IO, Any, Literal, TypedDict

from sqlalchemy.engine import Engine

from roster.mapping.system_columns import ERROR_COLUMN
from roster.store import failures

# A cell starting with one of these is a formula to Excel, LibreOffice or Google Sheets
# (TAB and CR too: some strip them and then read what follows).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
BATCH = 2000
# A sign then a number (-12.9145, +3, -1,234.50, 1e-3): a spreadsheet reads a number, runs nothing.
SIGNED_NUMBER = re.compile(r"^[+-](\d+(\.\d+)?|\.\d+|\d{1,3}(,\d{3})+(\.\d+)?)([eE][+-]?\d+)?$")
# An international phone number, +1 (415) 555-0100: digits, spaces, brackets, dots, dashes, with a
# space or a bracket (so "+1-2-3" stays a sum, neutralised) and no letters or other operators.
PHONE = re.compile(r"^\+\d[\d ()./-]*[ (][\d ()./-]*\d$")


def formula_safe(value: Any) -> str:
    """The cell as text, with a leading single quote when a spreadsheet would run it as a formula
    (=, @, tab or CR first; + or - first unless a plain number or a phone number follows). The
    quote makes the cell text; the visible value is unchanged."""
    text = "" if value is None else str(value)
    if not text.startswith(FORMULA_START):
        return text
    if text[0] in "+-" and (SIGNED_NUMBER.match(text) or (PHONE.match(text) and sum(c.isdigit() for c in text) >= 7)):
        return text
    return "'" + text


def error_text(row_number: int, reason: str | None) -> str:
    """The one cell Roster adds: which row of the uploaded file failed, and why."""
    return f"row {row_number}: {reason or 'failed'}"


class FailedRow(TypedDict):
    """A failed row as the doors show it: where it was in the file, why it failed, its values."""

    row_number: int
    email: str | None
    reason: str
    data: dict[str, Any]  # the row's own columns, as the file had them


class FailuresPage(TypedDict):
    """GET /contacts/imports/{id}/failures as JSON (the dashboard shows the first page too)."""

    object: Literal["list"]
    has_more: bool
    data: list[FailedRow]


def iter_failures(
    engine: Engine, import_id: str, team_id: int, after: int | None = None, batch: int = BATCH
) -> Iterator[FailedRow]:
    """Every failed row after row `after`, in row order, `batch` at a time from the database:
    {"row_number", "email", "reason", "data"}."""
    for rows in failures.batches(engine, import_id, team_id, None, after, batch):
        for number, email, reason, data in rows:
            yield {"row_number": number, "email": email, "reason": reason, "data": data}


def page(engine: Engine, import_id: str, team_id: int, limit: int, after: int | None) -> FailuresPage:
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
    """The failed rows as CSV text, a batch of rows per chunk: the row's own columns, then
    `roster_error`. (A file that was itself a failed-rows download has the old `roster_error`:
    the new one replaces it.)"""
    columns = [c for c in failures.value_columns(engine, import_id, team_id) if c != ERROR_COLUMN]
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow([formula_safe(c) for c in [*columns, ERROR_COLUMN]])
    for rows in failures.batches(engine, import_id, team_id, columns, None, BATCH):
        writer.writerows(
            [*map(formula_safe, values), formula_safe(error_text(number, reason))] for number, _, reason, *values in rows
        )
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
    yield buf.getvalue()


def write_csv(engine: Engine, import_id: str, team_id: int, out: IO[str]) -> None:
    for chunk in csv_chunks(engine, import_id, team_id):
        out.write(chunk)
