"""Cancel and revert, as every door asks them (the API, the CLI, the dashboard; the SDK, the
client CLI and MCP through the API): the store does the work in one transaction each
(roster/store/cancel.py, roster/store/undo.py); this adds the answers."""

from __future__ import annotations

import csv
import io
from typing import Any, cast

from sqlalchemy.engine import Engine

from roster.importing.failed_rows import formula_safe
from roster.store import cancel as cancelling
from roster.store import imports, undo
from roster.store.cancel import CancelRefused
from roster.store.undo import RevertRefused

__all__ = ["CancelRefused", "RevertRefused", "cancel", "revert", "left_unchanged", "left_unchanged_csv"]


def cancel(engine: Engine, team_id: int, import_id: str) -> dict[str, Any]:
    """Cancel the team's queued or running import; returns its row. Raises LookupError or
    CancelRefused. Its runs are stopped by the daemon (pipelines/cancelled_runs.py), best effort:
    the import is already cancelled exactly, and a run finds out at its next step or batch."""
    cancelling.cancel(engine, team_id, import_id)
    return cast(dict[str, Any], imports.get(engine, import_id, team_id))  # it is the team's: found above


def revert(engine: Engine, team_id: int, import_id: str, resubscribe: bool = False) -> dict[str, Any]:
    """Revert the team's import; returns its row (with `reverted_at` and `revert_result`).
    Raises LookupError or RevertRefused."""
    row = imports.get(engine, import_id, team_id)
    if row is not None and (row.get("options") or {}).get("dry_run"):
        raise RevertRefused(
            "a dry run writes nothing: there is nothing to revert (revert the import it was started as, if any)",
            "nothing_to_revert",
        )
    undo.revert(engine, team_id, import_id, resubscribe)
    return cast(dict[str, Any], imports.get(engine, import_id, team_id))  # it is the team's: found above


def left_unchanged(engine: Engine, team_id: int, import_id: str) -> list[dict[str, Any]]:
    return undo.left_unchanged(engine, team_id, import_id)


def left_unchanged_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["contact_id", "email", "reason", "why"])
    for r in rows:
        writer.writerow([r["contact_id"], formula_safe(r["email"]), r["reason"], r["why"]])
    return buf.getvalue()
