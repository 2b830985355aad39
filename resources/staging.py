"""The per-import staging table, named from the import's id, never from anything in the file."""
from __future__ import annotations

import uuid

from schemas.rows import PropertyField


def stage_table(import_id: uuid.UUID | str) -> str:
    return f"import_stage_{uuid.UUID(str(import_id)).hex}"


def create_stage_sql(import_id, props: list[PropertyField]) -> str:
    # UNLOGGED: skipping the WAL makes the COPY much cheaper. Crash recovery empties such a table;
    # the merge notices (contact_imports.staged_rows) and the file is staged again.
    extra = "".join(f", {p.staged} text" for p in props)
    return (
        f"DROP TABLE IF EXISTS {stage_table(import_id)}; "
        f"CREATE UNLOGGED TABLE {stage_table(import_id)} (row_number bigint NOT NULL, email text NOT NULL, "
        f"first_name text, last_name text, unsubscribed boolean{extra})"
    )


def stage_columns(props: list[PropertyField]) -> list[str]:
    """The staging columns in the order the validated frame is copied."""
    return ["row_number", "email", "first_name", "last_name", "unsubscribed", *[p.staged for p in props]]


def drop_sql(import_id) -> str:
    return f"DROP TABLE IF EXISTS {stage_table(import_id)}"
