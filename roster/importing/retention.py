"""What Roster keeps of uploaded files, and the sweep that enforces it.

An upload holds personal data and is needed only while its import may still run:
- completed: deleted when the import completes (LandingStore.discard, from its last step; the
  sweep catches any that step missed);
- a completed dry run: kept until it is started (POST /contacts/imports/{id}/start, which hands
  the file to the new import) or ROSTER_KEEP_UPLOADS_HOURS after it completed, as a failed one;
- failed: kept ROSTER_KEEP_UPLOADS_HOURS (default 24 h: a working day to notice a failure, fix
  the cause, e.g. a full disk or a database that was down, and `roster imports run ID`), then deleted;
- queued or in progress: kept;
- a folder with no import (the import was never recorded: a refused upload whose cleanup failed,
  a process killed in between) after an hour, and spooled uploads of a dead server process after a day.

What an import changed, for its undo (roster/store/undo.py: the values before of each contact it
updated, which contacts it created, the memberships and subscriptions it added) is personal data
too: kept ROSTER_UNDO_RETENTION_DAYS (default 30) after its merge, then dropped by sweep_undo;
a revert is refused from then on, saying so.

With ROSTER_LANDING=postgres a worker keeps a local copy of each upload it runs (roster/landing/postgres.py,
local_file); a run that is killed leaves it there, and its retry may end on another machine. Each
worker sweeps its own folder (sweep_local_copies: at worker start and hourly,
roster/importing/worker_sweep.py), so a copy lives no longer than the upload it copies, and a
failed import's copy no longer than its run: the database keeps that upload for a retry.

The sweep is an operator's job, not a caller's: it looks at every team's imports by id only, to
decide which folders may go, and returns nothing about them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TypedDict

from sqlalchemy.engine import Engine

from roster.landing import LandingStore, landing_store
from roster.runtime.settings import keep_uploads_hours, undo_retention_days
from roster.store import imports, landed_files, undo
from schemas.rules import is_uuid

ORPHAN_GRACE_SECONDS = 3600  # create_import lands the file first, then records the import
INCOMING_GRACE_SECONDS = 24 * 3600
BATCH = 1000


class Swept(TypedDict):
    """What a landing sweep removed."""

    removed: list[str]  # the imports whose upload went
    incoming: int  # spooled uploads a server process left behind when it died mid-request


def sweep_uploads(engine: Engine, landing: LandingStore | None = None, keep_hours: float | None = None) -> Swept:
    """Delete the uploads Roster no longer keeps."""
    landing = landing or landing_store()
    keep = keep_uploads_hours() if keep_hours is None else keep_hours
    folders = [(name, mtime) for name, mtime in landing.landed() if is_uuid(name)]  # anything else is not ours
    state: dict[str, tuple[str, bool]] = {}
    for i in range(0, len(folders), BATCH):
        state.update(imports.retention_states(engine, [name for name, _ in folders[i : i + BATCH]], keep))
    removed = []
    now = time.time()
    for name, mtime in folders:
        status, expired = state.get(name, (None, False))
        if status is None:
            gone = now - mtime > ORPHAN_GRACE_SECONDS
        else:
            gone = status == "completed" or (status in ("failed", "dry_run") and expired)
        if gone:
            landing.remove(name)
            removed.append(name)
    return {"removed": removed, "incoming": landing.sweep_incoming(INCOMING_GRACE_SECONDS)}


def sweep_local_copies(engine: Engine, root: str | Path | None = None, keep_hours: float | None = None) -> Swept:
    """This machine's folder only ($ROSTER_DATA_DIR/landing, or root), for a worker whose uploads
    live in PostgreSQL: the copies of uploads whose import ended, by the rules above, and at once
    the copy of a failed import whose upload the database keeps (a retry, on whichever machine,
    fetches it again). The database's copy is the daemon's to remove (sweep_uploads)."""
    local = LandingStore(root)
    result = sweep_uploads(engine, local, keep_hours)
    left = [name for name, _ in local.landed() if is_uuid(name)]
    for i in range(0, len(left), BATCH):
        for import_id, (status, _) in imports.retention_states(engine, left[i : i + BATCH], 0).items():
            if status == "failed" and landed_files.exists(engine, import_id):
                local.remove(import_id)
                result["removed"].append(import_id)
    return result


def sweep_undo(engine: Engine, keep_days: float | None = None) -> list[str]:
    """Drop the undo records older than ROSTER_UNDO_RETENTION_DAYS. Returns the imports' ids."""
    return undo.drop_expired(engine, undo_retention_days() if keep_days is None else keep_days)
