"""Which team and source a contact_import run belongs to, and whether its partition names an import.

Shared by the run coordinator (launches from the UI, before they queue) and the import_file step
(runs that never queue: `dagster job execute`, `roster import`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from roster.runtime.database import get_engine
from roster.safety.allowed_paths import PathRefused, refuse_roster_data
from roster.store import imports
from schemas.rules import is_uuid

TEAM_TAG, SOURCE_TAG = "roster/team", "roster/source"
# A run that went through the instance's run queue (pipelines/run_coordinator.py), retries included:
# it starts only in its import's turn among its team's imports (assets/import_file.py).
QUEUED_TAG = "roster/queued"
# A run that started working on its import (in its turn, at its first step): only such a run's
# failure uses up the import's retry budget (pipelines/sensors.py). Its value is the run's own id
# (a retry inherits its parent's tags): see worked().
WORKED_TAG = "roster/worked"


def _launch_config(run_config: Mapping[str, Any] | None) -> dict[str, Any]:
    return (((run_config or {}).get("ops") or {}).get("import_file") or {}).get("config") or {}


def _import_row(import_id: str) -> dict[str, Any] | None:
    return imports.owner(get_engine(), import_id)


def refusal(partition_key: str | None, run_config: Mapping[str, Any] | None) -> str | None:
    """Why a run cannot be an import (one line), or None."""
    if not partition_key:
        return (
            "a contact_import run imports one import: choose its partition (the import's id), "
            "or add a partition named with a new UUID and give file_path in the config"
        )
    if not is_uuid(partition_key):
        return f"partition {partition_key!r} is not an import id: partitions are named with the import's UUID"
    if _import_row(partition_key) is None:
        file_path = _launch_config(run_config).get("file_path")
        if not file_path:
            return f"there is no import {partition_key}: give file_path (and team) in the run config to create it"
        try:
            # Refused before the run queues (the step checks again, allowed folders included:
            # those are the worker's, which may be another machine).
            refuse_roster_data(file_path)
        except PathRefused as e:
            return str(e)
    return None


def import_tags(import_id: str, run_config: Mapping[str, Any] | None) -> dict[str, str]:
    row = _import_row(import_id)
    if row is not None:
        return {TEAM_TAG: row["team"], SOURCE_TAG: row["source"]}
    return {TEAM_TAG: _launch_config(run_config).get("team") or "default", SOURCE_TAG: "ui"}


def worked(run: Any) -> bool:
    """The run (a DagsterRun) started working on its import itself (a retry's inherited tag does
    not count)."""
    return bool(run.tags.get(WORKED_TAG) == run.run_id)
