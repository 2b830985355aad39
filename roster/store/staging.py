"""The per-import staging table: validated rows, COPYed in, read once by the merge.

Named from the import's id, never from anything in the file. UNLOGGED: skipping the WAL makes the
COPY much cheaper, and crash recovery empties such a table; `staged_rows`, written by the same
transaction as the COPY, is how the merge tells a lost stage from an empty file.

Each row is staged nearly as the merge inserts it: the contact's properties already as the text
of one JSON object (`properties`) and an id for the contact should the row create one (`id`).
Both are made here, on the thread that reads the file, while PostgreSQL COPYs the batch before.
In the merge, building the object with jsonb_build_object took about 2.8 s of PostgreSQL's CPU
per million rows and gen_random_uuid() about 1.6 s, in the merge's critical path; made here they
cost about 0.6 s of Python (mostly polars), the COPY's reading of the ids 0.4 s, and the merge's
reading of the JSON (`properties::jsonb`) 1 s. The JSON is read by the merge and not by the COPY:
the COPY runs beside the validation of the next batches, and with the JSON it took longer than
they did (3 s against 2.8 s per million rows), while the merge reads it in parts on two cores.
"""

from __future__ import annotations

import binascii
import contextlib
import io
import json
import os
import re
import uuid
from collections.abc import Callable, Iterator

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from roster.runtime.faults import fault_point
from schemas.rows import ROW, PropertyField
from schemas.rules import STANDARD_FIELDS

# The columns the merge reads besides STANDARD_FIELDS: how a stage of an older Roster (one column
# per property, no id) is told apart, to be staged again (see intact()).
ID, PROPERTIES = "id", "properties"


def stage_table(import_id: uuid.UUID | str) -> str:
    return f"import_stage_{uuid.UUID(str(import_id)).hex}"


def stage_columns() -> list[str]:
    """The staging columns in the order the validated frame is copied."""
    return ["row_number", *STANDARD_FIELDS, ID, PROPERTIES]


def drop_sql(import_id: str) -> str:
    return f"DROP TABLE IF EXISTS {stage_table(import_id)}"


def _create_sql(import_id: str) -> str:
    return (
        f"DROP TABLE IF EXISTS {stage_table(import_id)}; "
        f"CREATE UNLOGGED TABLE {stage_table(import_id)} (row_number bigint NOT NULL, email text NOT NULL, "
        f"first_name text, last_name text, unsubscribed boolean, {ID} uuid NOT NULL, {PROPERTIES} text NOT NULL)"
    )


# Version 4 and the RFC 4122 variant, set in the random bytes as gen_random_uuid() sets them.
_VERSION_4 = bytes((b & 0x0F) | 0x40 for b in range(256))
_VARIANT = bytes((b & 0x3F) | 0x80 for b in range(256))


def new_ids(n: int) -> pl.Series:
    """n random version-4 UUIDs as 32 hex digits (uuid's input takes them without dashes), from the
    operating system's random source, as gen_random_uuid() makes them from OpenSSL's. The id a
    contact gets if its row creates it; a row that updates a contact or is a duplicate wastes one."""
    if n == 0:
        return pl.Series(ID, [], dtype=pl.String)
    raw = bytearray(os.urandom(16 * n))
    raw[6::16] = raw[6::16].translate(_VERSION_4)
    raw[8::16] = raw[8::16].translate(_VARIANT)
    # One id a line, split by polars' reader (a Python list of a million strings costs 4 times as much).
    lines = binascii.hexlify(raw, b"\n", 16)
    return pl.read_csv(io.BytesIO(lines), has_header=False, new_columns=[ID], schema={ID: pl.String}).to_series()


# A staged number that is not already a JSON number: a sign "+", a leading point or zero, a point
# with no digit after it (NUMBER_PATTERN allows them; JSON does not).
_NOT_JSON_NUMBER = r"^[+.]|^-\.|^-?0[0-9]|\.([eE]|$)"
# Characters a JSON string must escape.
_NOT_JSON_STRING = r'["\\\x00-\x1f]'


def json_number(value: str) -> str:
    """A staged number as a JSON number that PostgreSQL reads to the same numeric, value and scale,
    as `value::numeric` (jsonb reads a number with numeric's own input): the "+" dropped, "0"
    before a leading point, a point with no digit after it dropped, leading zeros dropped
    (".5" -> "0.5", "5." -> "5", "5.e3" -> "5e3", "+007" -> "7")."""
    value = re.sub(r"^\+", "", value)
    value = re.sub(r"^(-?)\.", r"\g<1>0.", value)
    value = re.sub(r"\.([eE]|$)", r"\g<1>", value)
    return re.sub(r"^(-?)0+([0-9])", r"\g<1>\g<2>", value)


def _json_values(rows: pl.DataFrame, props: list[PropertyField]) -> list[tuple[str, pl.Expr, str]]:
    """Each property as (text before, value, text after) in the object's JSON: `"key":` and the cell
    (null where blank), a number property's as a JSON number, the others' between quotes. Only the
    batch's distinct values that need it go through Python (a quote, a backslash or a control
    character to escape; a number JSON would not read), then polars puts them back."""
    odd_of = rows.select(
        pl.col(p.staged).str.contains(_NOT_JSON_NUMBER if p.type == "number" else _NOT_JSON_STRING).alias(p.staged) for p in props
    )
    out = []
    for p in props:
        key = json.dumps(p.key, ensure_ascii=False)
        column = rows.get_column(p.staged)
        odd = column.filter(odd_of.get_column(p.staged)).unique().to_list()
        if p.type == "number":
            fixed = {v: json_number(v) for v in odd}
            out.append((key + ":", pl.col(p.staged).replace(fixed) if fixed else pl.col(p.staged), ""))
        else:
            fixed = {v: json.dumps(v, ensure_ascii=False)[1:-1] for v in odd}
            out.append((key + ':"', pl.col(p.staged).replace(fixed) if fixed else pl.col(p.staged), '"'))
    return out


def properties_json(rows: pl.DataFrame, props: list[PropertyField]) -> pl.Expr:
    """The rows' properties, each row's as the JSON text of one object, as the merge used to build it
    with jsonb_strip_nulls(jsonb_build_object(key, value, ...)): a key for each property with a
    value (none for a blank cell), a number property as a JSON number, the others as strings (a
    yes/no one as "true"/"false"). The keys are the map's, written into the JSON as data."""
    if not props:
        return pl.lit("{}").alias(PROPERTIES)
    values = _json_values(rows, props)
    if not any(rows.get_column(p.staged).null_count() for p in props):
        # No blank cell in the batch: the whole object in one pass.
        parts: list[pl.Expr] = []
        text = "{"
        for i, (before, value, after) in enumerate(values):
            parts += [pl.lit(text + ("," if i else "") + before), value]
            text = after
        return pl.concat_str([*parts, pl.lit(text + "}")]).alias(PROPERTIES)
    # Each pair null where its cell is blank, the pairs joined with commas between those left.
    pairs = [pl.concat_str([pl.lit(before), value, pl.lit(after)]) for before, value, after in values]
    joined = pl.concat_str(pairs, separator=",", ignore_nulls=True)
    return pl.concat_str([pl.lit("{"), joined, pl.lit("}")]).alias(PROPERTIES)


# COPY's CSV with a tab between fields and \x01 to quote: JSON text has neither (it escapes control
# characters), so the properties object goes as it is, where with "," and '"' every one of its
# quotes would be doubled (a third of the encoding's time). Any other field with a tab, a newline
# or a \x01 is quoted, as CSV does.
_SEPARATOR, _QUOTE = "\t", "\x01"


def copy_text(rows: pl.DataFrame, props: list[PropertyField]) -> bytes:
    """A validated batch as the writer's COPY takes it (CSV as _SEPARATOR and _QUOTE say, in
    stage_columns' order), with each row's id and properties object: made where the batch is read,
    so the encoding runs beside the COPY of the batch before."""
    staged = rows.select(pl.col(ROW).alias("row_number"), *STANDARD_FIELDS, new_ids(rows.height), properties_json(rows, props))
    out = io.BytesIO()
    staged.write_csv(out, include_header=False, null_value="", separator=_SEPARATOR, quote_char=_QUOTE)
    return out.getvalue()


@contextlib.contextmanager
def writer(engine: Engine, import_id: str) -> Iterator[Callable[[bytes, int], None]]:
    """A writer of validated batches (copy_text's bytes and their number of rows) into a new
    staging table, all in one transaction.

    The table is created in the same transaction as its COPY, so the COPY can use FREEZE: the rows
    are written once, already frozen, instead of being rewritten when first read. The number of
    rows staged is recorded in the same transaction.
    """
    columns = stage_columns()
    # The separator and quote copy_text writes with (_SEPARATOR, _QUOTE).
    copy_sql = (
        f"COPY {stage_table(import_id)} ({', '.join(columns)}) FROM STDIN (FORMAT csv, FREEZE, DELIMITER E'\\t', QUOTE E'\\x01')"
    )
    staged = 0
    raw = engine.raw_connection()
    try:
        with raw.driver_connection.cursor() as cur:  # type: ignore[union-attr]  # a live pooled connection has one
            cur.execute(_create_sql(import_id))
            # One COPY for the whole file. Each write waits until PostgreSQL has taken most of the
            # batch (psycopg's writer is synchronous): the caller reads the next batches meanwhile
            # on a thread of its own (roster/importing/read_ahead.py).
            with cur.copy(copy_sql) as copy:

                def write(text: bytes, rows: int) -> None:
                    nonlocal staged
                    copy.write(text)
                    staged += rows
                    fault_point("staging")

                yield write
            cur.execute("UPDATE contact_imports SET staged_rows = %s WHERE id = %s", (staged, import_id))
        raw.commit()
    except BaseException:
        raw.rollback()
        raise
    finally:
        raw.close()


def intact(conn: Connection, import_id: str, staged_rows: int | None) -> bool:
    """The stage holds what staging committed (crash recovery empties an UNLOGGED table), in the
    columns this Roster merges from (a stage an older Roster left, upgraded mid-import, is staged again)."""
    if staged_rows is None:
        return False
    columns = conn.execute(
        sa.text(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass(:t) AND attname IN (:id, :props) AND NOT attisdropped"
        ),
        {"t": stage_table(import_id), "id": ID, "props": PROPERTIES},
    ).scalar_one()
    if columns != 2:  # no such table, or not this shape
        return False
    return bool(conn.execute(sa.text(f"SELECT count(*) FROM {stage_table(import_id)}")).scalar_one() == staged_rows)


def staged_imports(engine: Engine) -> list[str]:
    """The ids of the imports that have a staging table now."""
    with engine.connect() as conn:
        names = (
            conn.execute(
                sa.text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE 'import\\_stage\\_%'"
                )
            )
            .scalars()
            .all()
        )
    return [str(uuid.UUID(name.rsplit("_", 1)[1])) for name in names]


def drop(engine: Engine, import_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(drop_sql(import_id)))
