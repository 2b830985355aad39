"""The per-import staging table: validated rows, COPYed in, read once by the merge.

Named from the import's id, never from anything in the file. UNLOGGED: skipping the WAL makes the
COPY much cheaper, and crash recovery empties such a table; `staged_rows`, written by the same
transaction as the COPY, is how the merge tells a lost stage from an empty file.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from roster.runtime.faults import fault_point
from schemas.rows import ROW, PropertyField
from schemas.rules import STANDARD_FIELDS


def stage_table(import_id: uuid.UUID | str) -> str:
    return f"import_stage_{uuid.UUID(str(import_id)).hex}"


def stage_columns(props: list[PropertyField]) -> list[str]:
    """The staging columns in the order the validated frame is copied."""
    return ["row_number", *STANDARD_FIELDS, *[p.staged for p in props]]


def drop_sql(import_id: str) -> str:
    return f"DROP TABLE IF EXISTS {stage_table(import_id)}"


def _create_sql(import_id: str, props: list[PropertyField]) -> str:
    extra = "".join(f", {p.staged} text" for p in props)
    return (
        f"DROP TABLE IF EXISTS {stage_table(import_id)}; "
        f"CREATE UNLOGGED TABLE {stage_table(import_id)} (row_number bigint NOT NULL, email text NOT NULL, "
        f"first_name text, last_name text, unsubscribed boolean{extra})"
    )


def copy_text(rows: pl.DataFrame, props: list[PropertyField]) -> bytes:
    """A validated batch as the writer's COPY takes it (CSV, in stage_columns' order): made where
    the batch is read, so the encoding runs beside the COPY of the batch before."""
    columns = stage_columns(props)
    return rows.rename({ROW: "row_number"}).select(columns).write_csv(include_header=False, null_value="").encode()


@contextlib.contextmanager
def writer(engine: Engine, import_id: str, props: list[PropertyField]) -> Iterator[Callable[[bytes, int], None]]:
    """A writer of validated batches (copy_text's bytes and their number of rows) into a new
    staging table, all in one transaction.

    The table is created in the same transaction as its COPY, so the COPY can use FREEZE: the rows
    are written once, already frozen, instead of being rewritten when first read. The number of
    rows staged is recorded in the same transaction.
    """
    columns = stage_columns(props)
    copy_sql = f"COPY {stage_table(import_id)} ({', '.join(columns)}) FROM STDIN (FORMAT csv, FREEZE)"
    staged = 0
    raw = engine.raw_connection()
    try:
        with raw.driver_connection.cursor() as cur:  # type: ignore[union-attr]  # a live pooled connection has one
            cur.execute(_create_sql(import_id, props))
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
    """The stage holds what staging committed (crash recovery empties an UNLOGGED table)."""
    if staged_rows is None:
        return False
    if conn.execute(sa.text("SELECT to_regclass(:t)"), {"t": stage_table(import_id)}).scalar() is None:
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
