"""Running imports from tests the way the CLI does: a queued import, then a real Dagster run."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import sqlalchemy as sa

from resources.landing_store import LandingStore
from roster.imports import create_import, get_import, render_import
from roster.launch import run_import
from schemas.column_map import ImportOptions, parse_column_map

NAMES_MAP = {"email": "Email", "first_name": "First Name", "last_name": "Last Name"}


def write_csv(path: Path, header: list[str], rows: list[list], delimiter: str = ",", encoding: str = "utf-8") -> Path:
    buf = io.StringIO(newline="")
    w = csv.writer(buf, delimiter=delimiter)
    w.writerow(header)
    w.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def run(engine, team_id: int, path: Path, column_map=None, check: bool = True, **options) -> dict:
    """Create and run an import; returns the import object plus its `row`."""
    opts = ImportOptions(column_map=parse_column_map(column_map), **options)
    import_id = create_import(engine, LandingStore(), team_id, Path(path), Path(path).name, opts, source="test", check=check)
    result = run_import(import_id, tags={"roster/source": "test"})
    row = get_import(engine, team_id, import_id)
    return {**render_import(row), "row": row, "run": result}


def contacts(engine, team_id: int) -> dict[str, dict]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT * FROM contacts WHERE team_id = :t"), {"t": team_id}
        ).mappings().all()
    return {r["email"].lower(): dict(r) for r in rows}


def failures(engine, import_id: str) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT row_number, email, reason, data FROM contact_import_failures WHERE import_id = :i ORDER BY row_number"),
            {"i": import_id},
        ).mappings().all()
    return [dict(r) for r in rows]
