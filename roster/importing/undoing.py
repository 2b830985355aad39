"""Cancel and revert, as every door asks them (the API, the CLI, the dashboard; the SDK, the
client CLI and MCP through the API): the store does the work in one transaction each
(roster/store/cancel.py, roster/store/undo.py); this adds stopping the run and the answers."""

from __future__ import annotations

import csv
import io
import logging
import threading

from sqlalchemy.engine import Engine

from roster.importing.failed_rows import formula_safe
from roster.store import cancel as cancelling
from roster.store import imports, undo
from roster.store.cancel import CancelRefused
from roster.store.undo import RevertRefused

log = logging.getLogger("roster.importing")

__all__ = ["CancelRefused", "RevertRefused", "cancel", "revert", "left_unchanged", "left_unchanged_csv"]


def cancel(engine: Engine, team_id: int, import_id: str, in_background: bool = True) -> dict:
    """Cancel the team's queued or running import; returns its row. Raises LookupError or CancelRefused.
    Its Dagster run, if one works on it, is asked to stop (in the background, best effort: the
    import is already cancelled exactly; the run would find out at its next step). A process about
    to exit (the CLI) asks it before returning: `in_background=False`."""
    outcome = cancelling.cancel(engine, team_id, import_id)
    if outcome.run_id and not outcome.already:
        if in_background:
            threading.Thread(target=_stop_run, args=(outcome.run_id,), daemon=True).start()
        else:
            _stop_run(outcome.run_id)
    return imports.get(engine, import_id, team_id)


def _stop_run(run_id: str) -> None:
    try:
        from pipelines.launch import dagster_instance

        instance = dagster_instance()
        run = instance.get_run_by_id(run_id)
        if run is not None and not run.is_finished:
            instance.run_coordinator.cancel_run(run_id)
    except Exception as e:  # the run stops by itself at its next step
        log.warning("could not stop run %s of a cancelled import: %s", run_id, e)


def revert(engine: Engine, team_id: int, import_id: str, resubscribe: bool = False) -> dict:
    """Revert the team's import; returns its row (with `reverted_at` and `revert_result`).
    Raises LookupError or RevertRefused."""
    undo.revert(engine, team_id, import_id, resubscribe)
    return imports.get(engine, import_id, team_id)


def left_unchanged(engine: Engine, team_id: int, import_id: str) -> list[dict]:
    return undo.left_unchanged(engine, team_id, import_id)


def left_unchanged_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["contact_id", "email", "reason", "why"])
    for r in rows:
        writer.writerow([r["contact_id"], formula_safe(r["email"]), r["reason"], r["why"]])
    return buf.getvalue()
