"""Cancelling an import: it ends `failed` with nothing written, and says it was cancelled.

Exact under faults because the cancel and the merge take the same lock, the import's row
(`SELECT ... FOR UPDATE`): either the merge commits first (the cancel is then refused: too late,
revert instead) or the cancel commits first (the merge, under that lock, sees `cancelled_at` and
writes nothing). A worker killed while a cancel waits releases the lock with its transaction, so
the cancel then commits; a retried run finds the import cancelled and stops.

A big import merged in parts (roster/store/merge_parts.py): each part holds the import's row
shared while it merges, so a cancel waits for the parts in flight. Before any part commits, the
cancel wins as above (every part then finds it cancelled and writes nothing); once one part has
committed, the cancel is refused as too late, like a merged import's: the import finishes (a
retry merges the parts left) and a revert undoes all of it. Never half an import: a cancel does
not stop between parts, and nothing reverts a part on its own. Stopping the run
itself (pipelines/cancelled_runs.py, the daemon's) is only to free the worker sooner.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from roster.store import merge_parts
from roster.store.staging import drop_sql
from schemas import tables as t

ci = t.contact_imports

CANCELLED = "cancelled on request before its contacts were written: nothing was imported"


class Cancelled(RuntimeError):
    """Raised in an import's run when it finds the import cancelled: the run stops, writing nothing."""

    def __init__(self, import_id: str):
        super().__init__(CANCELLED)
        self.import_id = import_id


class CancelRefused(Exception):
    """The import cannot be cancelled; the message says why. `code`: a short name for the API."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


@dataclass
class CancelOutcome:
    run_id: str | None  # the run to stop, if one was working on it
    already: bool  # cancelled earlier


def cancel(engine: Engine, team_id: int, import_id: str) -> CancelOutcome:
    """Cancel the team's queued or running import. Raises LookupError (no such import of this
    team) or CancelRefused (merged already: too late; or it ended before)."""
    with engine.begin() as conn:
        state = conn.execute(
            sa.select(ci.c.status, ci.c.merged_at, ci.c.cancelled_at, ci.c.run_id)
            .where(ci.c.id == import_id, ci.c.team_id == team_id)
            .with_for_update()
        ).first()
        if state is None:
            raise LookupError(import_id)
        if state.cancelled_at is not None:
            return CancelOutcome(state.run_id, already=True)
        if state.merged_at is not None:
            raise CancelRefused(
                "too late to cancel: this import's contacts were written when its merge committed; "
                "undo it with POST /contacts/imports/{id}/revert",
                "too_late",
            )
        if merge_parts.begun(conn, import_id):  # a part of a big import's merge committed: it finishes
            raise CancelRefused(
                "too late to cancel: this import's contacts are being written (part of its merge has committed, "
                "the rest follows); once it completes, undo it with POST /contacts/imports/{id}/revert",
                "too_late",
            )
        if state.status not in ("queued", "in_progress"):
            raise CancelRefused(f"this import already ended ({state.status}): there is nothing to cancel", "import_ended")
        conn.execute(
            sa.update(ci)
            .where(ci.c.id == import_id)
            .values(status="failed", error=CANCELLED, cancelled_at=sa.func.now(), completed_at=sa.func.now())
        )
    _drop_stage(engine, import_id)
    return CancelOutcome(state.run_id, already=False)


def _drop_stage(engine: Engine, import_id: str) -> None:
    """The staged rows go now if nothing holds them; else the run drops them when it stops."""
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("SET LOCAL lock_timeout = '2s'"))
            conn.execute(sa.text(drop_sql(import_id)))
    except sa.exc.DBAPIError:
        pass


def is_cancelled(engine: Engine, import_id: str) -> bool:
    with engine.connect() as conn:
        return conn.execute(sa.select(ci.c.cancelled_at.is_not(None)).where(ci.c.id == import_id)).scalar() is True


def check(engine: Engine, import_id: str) -> None:
    """For a run between its steps: stop (raise Cancelled) once the import is cancelled."""
    if is_cancelled(engine, import_id):
        raise Cancelled(import_id)


def recently_cancelled(engine: Engine, within_seconds: float) -> list[str]:
    """Imports cancelled in the last `within_seconds`: the daemon stops their runs."""
    since = sa.func.now() - sa.func.make_interval(0, 0, 0, 0, 0, 0, sa.literal(float(within_seconds), sa.Float))
    with engine.connect() as conn:
        return [str(i) for i in conn.execute(sa.select(ci.c.id).where(ci.c.cancelled_at > since)).scalars()]
