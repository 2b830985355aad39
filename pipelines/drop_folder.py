"""The drop folder: a file put in $ROSTER_DROP_DIR/<team>/ becomes one import of that team.

- `.csv`, `.tsv` and `.csv.gz` files; `NAME.json` beside `NAME.csv` may give the import's options
  (`column_map`, `on_conflict`, `segments`, `topics`, `auto_map`, `auto_create_properties`).
- A file is taken once its size and modification time are the same on two ticks in a row, so a
  file still being written is left alone.
- Each (path, size, mtime) is imported once: the import's id is derived from it, and so is the
  run key. A file that changes is imported again.
- When its import ends (completed, or failed for good after any retries), the file moves to
  `<team>/processed/` or `<team>/failed/`, with `NAME.result.json` (the import object) beside it.
"""

import json
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, sensor

from assets.partitions import contact_imports
from pipelines.jobs import contact_import_job
from resources.database import Database
from resources.landing_store import Landing
from roster.importing.render import render_import
from roster.importing.service import ImportService
from roster.runtime.settings import get_settings
from schemas.import_options import ImportOptions, OptionsError, parse_options

SUFFIXES = (".csv", ".tsv", ".csv.gz")
DONE_DIRS = ("processed", "failed")
DROP_TAG = "roster/drop_file"
_NAMESPACE = uuid.UUID("5b0c1c1e-8f7e-4a51-9d3a-6f1f2f0d7a11")


def drop_dir() -> Path | None:
    return get_settings().drop_dir


def candidates(root: Path) -> list[tuple[str, Path]]:
    """(team, file) for every importable file under root/<team>/."""
    found = []
    for team_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for f in sorted(team_dir.iterdir()):
            if f.is_file() and f.name.lower().endswith(SUFFIXES):
                found.append((team_dir.name, f))
    return found


def _sidecar(path: Path) -> Path:
    name = path.name
    for suffix in SUFFIXES:
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return path.with_name(name + ".json")


def import_id_for(path: Path, size: int, mtime_ns: int) -> tuple[str, str]:
    run_key = f"{path}:{size}:{mtime_ns}"
    return run_key, str(uuid.uuid5(_NAMESPACE, run_key))


# Every 5 s while a drop folder is configured; without one, a look every 5 minutes (nothing to do).
@sensor(job=contact_import_job, minimum_interval_seconds=5 if drop_dir() else 300, default_status=DefaultSensorStatus.RUNNING)
def dropped_files(context: SensorEvaluationContext, database: Database, landing: Landing) -> SensorResult:
    root = drop_dir()
    if root is None or not root.is_dir():
        return SensorResult(skip_reason="ROSTER_DROP_DIR is not set or not a directory")
    service = ImportService(database.engine(), landing.store())
    previous = json.loads(context.cursor or "{}")
    seen, requests, new_partitions = {}, [], []
    for team, path in candidates(root):
        stat = path.stat()
        signature = [stat.st_size, stat.st_mtime_ns]
        seen[str(path)] = signature
        if previous.get(str(path)) != signature:
            continue  # new, or still being written: look again next tick
        run_key, import_id = import_id_for(path, *signature)
        existing = service.row(service.team(team, create=True), import_id)
        if existing is not None and existing["status"] in ("completed", "failed"):
            # Its import ended (whichever run, retry or watchdog ended it): the file moves aside.
            move_done(path, "processed" if existing["status"] == "completed" else "failed", render_import(existing))
            continue
        if existing is None:
            team_id = service.team(team, create=True)
            try:
                sidecar = _sidecar(path)
                options = parse_options(json.loads(sidecar.read_text())) if sidecar.exists() else ImportOptions()
            except (ValueError, OptionsError) as e:  # bad JSON or bad options: a failed import says so, and the file moves aside
                service.record_failed(team_id, "sensor", path.name, f"the sidecar {sidecar.name} is invalid: {e}", import_id)
                move_done(path, "failed", {"error": f"the sidecar {sidecar.name} is invalid: {e}"})
                continue
            service.create(team_id, path, path.name, options, "sensor", check=False, launched=True, import_id=import_id)
        # Requested again on every tick until it ends: the run key makes it one run.
        new_partitions.append(import_id)
        requests.append(
            RunRequest(
                run_key=run_key,
                partition_key=import_id,
                tags={"roster/team": team, "roster/source": "sensor", DROP_TAG: str(path)},
            )
        )
    context.update_cursor(json.dumps(seen))
    return SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[contact_imports.build_add_request(new_partitions)] if new_partitions else [],
    )


def move_done(path: Path, outcome: str, result: Mapping[str, Any]) -> Path | None:
    """Move a dropped file (and its sidecar) to processed/ or failed/, with the outcome beside it."""
    if not path.exists():
        return None
    target_dir = path.parent / outcome
    target_dir.mkdir(exist_ok=True)
    target = target_dir / path.name
    shutil.move(str(path), target)
    sidecar = _sidecar(path)
    if sidecar.exists():
        shutil.move(str(sidecar), target_dir / sidecar.name)
    (target_dir / (path.name + ".result.json")).write_text(json.dumps(result, indent=2))
    return target
