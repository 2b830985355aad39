"""The per-import staging tables, named from the import's id, never from anything in the file."""
from __future__ import annotations

import uuid

from schemas.rows import PropertyField


def stage_table(import_id: uuid.UUID | str) -> str:
    return f"import_stage_{uuid.UUID(str(import_id)).hex}"


def merged_table(import_id: uuid.UUID | str) -> str:
    """Ids of the contacts an import created or updated, kept for segment and topic memberships."""
    return f"import_merged_{uuid.UUID(str(import_id)).hex}"


def create_stage_sql(import_id, props: list[PropertyField]) -> str:
    # UNLOGGED: staging is rebuilt from the file on a retry, so it need not survive a crash,
    # and skipping the WAL makes the COPY much cheaper.
    extra = "".join(f", {p.staged} text" for p in props)
    return (
        f"DROP TABLE IF EXISTS {stage_table(import_id)}; "
        f"CREATE UNLOGGED TABLE {stage_table(import_id)} (row_number bigint NOT NULL, email text NOT NULL, "
        f"first_name text, last_name text, unsubscribed boolean{extra}, email_key text NOT NULL)"
    )


def stage_columns(props: list[PropertyField]) -> list[str]:
    """The staging columns in the order the validated frame is copied."""
    return ["row_number", "email", "first_name", "last_name", "unsubscribed", *[p.staged for p in props], "email_key"]


def drop_sql(import_id) -> str:
    return f"DROP TABLE IF EXISTS {stage_table(import_id)}, {merged_table(import_id)}"
