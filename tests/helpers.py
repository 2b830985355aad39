"""Running imports from tests the way the CLI does: a queued import, then a real Dagster run."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa

from pipelines.launch import run_import
from roster.importing.render import render_import
from roster.importing.service import ImportService
from roster.landing import LandingStore
from roster.store import imports
from schemas.column_map import parse_column_map
from schemas.import_options import ImportOptions

NAMES_MAP = {"email": "Email", "first_name": "First Name", "last_name": "Last Name"}
# How long a test waits for something that takes a second on a quiet machine: generous, because
# the suite must pass on a loaded one (2 cores, load 4 and more), and a bound only ends a wait
# that would otherwise never end.
WAIT_SECONDS = 180
# The first import through a `roster serve` just started waits for its daemon, code server and
# first run worker to load: at load 18 on 2 cores, 60-90 s; allow for a machine twice as busy.
SERVE_WAIT_SECONDS = 420

T = TypeVar("T")


def wait_for(condition: Callable[[], T], what: str, timeout: float = WAIT_SECONDS, every: float = 0.05) -> T:
    """Polls `condition` until it returns something truthy, and returns that; AssertionError naming
    `what` after `timeout` seconds. Tests wait for conditions this way, never for a fixed time."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:.0f} s for {what}")
        time.sleep(every)


def write_csv(path: Path, header: list[str], rows: list[list], delimiter: str = ",", encoding: str = "utf-8") -> Path:
    buf = io.StringIO(newline="")
    w = csv.writer(buf, delimiter=delimiter)
    w.writerow(header)
    w.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def create_import(
    engine,
    landing: LandingStore | None,
    team_id: int,
    file,
    filename: str,
    options: ImportOptions,
    source: str = "test",
    **kwargs,
) -> str:
    """An import recorded through the import service, as every door records one."""
    return ImportService(engine, landing or LandingStore()).create(team_id, file, filename, options, source, **kwargs)


def get_import(engine, team_id: int, import_id: str) -> dict | None:
    return imports.get(engine, import_id, team_id)


def run(engine, team_id: int, path: Path, column_map=None, check: bool = True, **options) -> dict:
    """Create and run an import; returns the import object plus its `row`."""
    opts = ImportOptions(column_map=parse_column_map(column_map), **options)
    import_id = create_import(engine, None, team_id, Path(path), Path(path).name, opts, check=check)
    result = run_import(import_id, tags={"roster/source": "test"})
    row = get_import(engine, team_id, import_id)
    return {**render_import(row), "row": row, "run": result}


def contacts(engine, team_id: int) -> dict[str, dict]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM contacts WHERE team_id = :t"), {"t": team_id}).mappings().all()
    return {r["email"].lower(): dict(r) for r in rows}


def failures(engine, import_id: str) -> list[dict]:
    with engine.connect() as conn:
        rows = (
            conn.execute(
                sa.text(
                    "SELECT row_number, email, reason, data FROM contact_import_failures WHERE import_id = :i ORDER BY row_number"
                ),
                {"i": import_id},
            )
            .mappings()
            .all()
        )
    return [dict(r) for r in rows]
