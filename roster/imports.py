"""Creating imports and showing them: what every entry point (CLI, API, sensors) shares."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Engine

from resources.column_mapper import ColumnMapper, reconcile_property_types
from resources.landing_store import LandingStore
from roster.csvfiles import FileRefused, open_source, sample_values
from roster.errors_public import public_text
from roster.mapping.memory import recall
from schemas import tables as t
from schemas.column_map import ColumnMapError, ImportOptions


class ImportRefused(ValueError):
    """The import cannot start; nothing was written. The message says why.

    too_large: refused for a size limit (the API answers 413 rather than 422)."""

    def __init__(self, message: str, too_large: bool = False):
        super().__init__(message)
        self.too_large = too_large


def ensure_team(engine: Engine, name: str) -> int:
    with engine.begin() as conn:
        conn.execute(insert(t.teams).values(name=name).on_conflict_do_nothing(index_elements=["name"]))
        return conn.execute(sa.select(t.teams.c.id).where(t.teams.c.name == name)).scalar_one()


def check_segments_and_topics(engine: Engine, team_id: int, options: ImportOptions) -> None:
    with engine.connect() as conn:
        for segment_id in options.segments:
            if not _is_uuid(segment_id) or not conn.execute(
                sa.select(t.segments.c.id).where(t.segments.c.id == segment_id, t.segments.c.team_id == team_id)
            ).first():
                raise ImportRefused(f"segment {segment_id} does not exist")
        for topic in options.topics:
            if not _is_uuid(topic.get("id")) or not conn.execute(
                sa.select(t.topics.c.id).where(t.topics.c.id == topic.get("id"), t.topics.c.team_id == team_id)
            ).first():
                raise ImportRefused(f"topic {topic.get('id')} does not exist")


def _is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
        return True
    except ValueError:
        return False


def preflight(engine: Engine, team_id: int, path: Path, options: ImportOptions, workdir: Path) -> None:
    """Everything that can be checked before an import is queued: the file opens, has an email
    column, the column map fits it, the segments exist. Raises ImportRefused."""
    try:
        # A preview: a .gz is read to its end (its size checked) but copied only as far as the
        # sample, so a request never writes a whole decompressed file; the run does that.
        source = open_source(path, workdir, head_only=True)
        existing = _properties(engine, team_id)
        remembered = None if options.column_map is not None else recall(engine, team_id, source.headers)
        # Offline only: the model is asked once per file, by the import's run, not here.
        resolution = ColumnMapper().resolve(
            source.headers, sample_values(source), existing, options.column_map, auto_map=options.auto_map,
            auto_create_properties=options.auto_create_properties, remembered=remembered, offline_only=True)
        reconcile_property_types(resolution.column_map, existing)
    except (FileRefused, ColumnMapError) as e:
        raise ImportRefused(str(e), too_large=getattr(e, "too_large", False)) from None
    check_segments_and_topics(engine, team_id, options)


def _properties(engine: Engine, team_id: int) -> dict[str, str]:
    p = t.contact_properties
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(p.c.key, p.c.type).where(p.c.team_id == team_id)).all())


def create_import(
    engine: Engine,
    landing: LandingStore,
    team_id: int,
    file: Path | BinaryIO,
    filename: str,
    options: ImportOptions,
    source: str,
    max_bytes: int | None = None,
    check: bool = True,
    launched: bool = False,
    import_id: str | None = None,
) -> str:
    """Land the file, check it, and record a queued import. Returns the import's id.

    `launched`: the caller runs it itself (the CLI), so the queued-imports sensor leaves it alone.
    `import_id`: a sensor or schedule derives it from what it saw, so a repeated tick cannot
    create the same import twice (see import_exists)."""
    import_id = import_id or str(uuid.uuid4())
    if isinstance(file, (str, Path)):
        path = landing.save_path(import_id, Path(file))
    else:
        path = landing.save_stream(import_id, file, filename, max_bytes)
    try:
        if check:
            preflight(engine, team_id, path, options, landing.workdir(import_id))
    except BaseException:  # refused, or the server could not read or write it: no import, no file
        landing.remove(import_id)
        raise
    finally:
        landing.clean_work(import_id)
    with engine.begin() as conn:
        conn.execute(sa.insert(t.contact_imports).values(
            id=import_id, team_id=team_id, status="queued", source=source, filename=filename,
            file_path=str(path), options=options.model_dump(mode="json", exclude_unset=True),
            launched_at=sa.func.now() if launched else None,
        ))
    return import_id


def record_failed_import(engine: Engine, team_id: int, source: str, what: str, reason: str, import_id: str | None = None) -> str:
    """An import that could not even get its file (a sync source that failed): it shows as failed,
    with the reason, where people look for their imports."""
    import_id = import_id or str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(
            insert(t.contact_imports).values(
                id=import_id, team_id=team_id, status="failed", source=source, filename=what, file_path=what,
                error=reason, completed_at=sa.func.now(), launched_at=sa.func.now(),
            ).on_conflict_do_nothing(index_elements=["id"])
        )
    return import_id


def import_exists(engine: Engine, import_id: str) -> bool:
    if not _is_uuid(import_id):
        return False
    with engine.connect() as conn:
        return conn.execute(sa.select(t.contact_imports.c.id).where(t.contact_imports.c.id == import_id)).first() is not None


def pg_timestamp(value: datetime | None) -> str | None:
    """PostgreSQL's rendering, as Resend's API shows it: 2026-05-15 18:32:37.823+00."""
    if value is None:
        return None
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}+00"


def render_import(row: dict) -> dict:
    """The import object of GET /contacts/imports/{id}, plus `error` when it failed."""
    out = {
        "object": "contact_import",
        "id": str(row["id"]),
        "status": row["status"],
        "created_at": pg_timestamp(row["created_at"]),
        "completed_at": pg_timestamp(row["completed_at"]),
        "counts": {k: int(row[k]) for k in ("total", "created", "updated", "skipped", "failed")},
    }
    if row["status"] == "failed" and row.get("error"):
        out["error"] = public_text(row["error"])
    return out


def get_import(engine: Engine, team_id: int, import_id: str) -> dict | None:
    if not _is_uuid(import_id):
        return None
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(t.contact_imports).where(t.contact_imports.c.id == import_id, t.contact_imports.c.team_id == team_id)
        ).mappings().first()
    return dict(row) if row else None
