"""An import as the dashboard shows it: the API's rendering (roster/importing/render.py) plus what
a person needs beside it (file, source, times, progress, the column map used)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from roster.importing.progress import describe
from roster.importing.render import render_import
from schemas.rules import CORE_FIELDS

LABELS = {"queued": "Queued", "in_progress": "Running", "completed": "Completed", "failed": "Failed"}
# A finished import's badge says what happened (roster/importing/outcome.py): amber when rows
# failed, red when nothing was imported.
OUTCOME_LABELS = {
    "completed": "Completed",
    "completed_with_failures": "Completed with failures",
    "nothing_imported": "Nothing imported",
    "dry_run": "Dry run",
    "guard_tripped": "Stopped: too many failed rows",
    "failed": "Failed",
    "cancelled": "Cancelled",
    "reverted": "Reverted",
}
PROBE_BYTES = 64 * 1024


def when(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else None


@lru_cache(maxsize=256)
def estimated_rows(path: str, size: int) -> int | None:
    """Rows in a plain file, from the size and the average line of its first 64 KB: only for the
    progress bar while rows are read (a gzip file's rows cannot be guessed this way)."""
    try:
        with open(path, "rb") as f:
            head = f.read(PROBE_BYTES)
    except OSError:
        return None
    if head[:2] == b"\x1f\x8b" or b"\n" not in head:
        return None
    lines = head.count(b"\n")
    return max(1, int(size / (len(head) / lines)) - 1)


def progress(row: dict[str, Any]) -> dict[str, Any]:
    """{"percent": 0-100 or None (unknown), "phase": words}: the import's phase as the API and the
    CLI name it (roster/importing/progress.py), with a percentage estimated while rows are read."""
    status = row["status"]
    if row.get("cancelled_at") is not None:
        return {"percent": 100, "phase": "Cancelled: nothing was imported"}
    if row.get("reverted_at") is not None:
        return {"percent": 100, "phase": "Reverted"}
    if status in ("completed", "failed"):
        return {"percent": 100, "phase": LABELS[status]}
    if status == "queued":
        return {"percent": 0, "phase": "Waiting for a run to start"}
    phase, doing = describe(row)
    if row.get("phase") in (None, "reading"):  # a run claimed it, or is opening the file
        return {"percent": 0, "phase": "Reading: opening the file, deciding the column map"}
    if phase != "staging":  # merging, or merged and about to complete
        return {"percent": 95, "phase": f"{phase.capitalize()}: {doing}"}
    read = int(row.get("rows_read") or 0)
    try:
        size = Path(row["file_path"]).stat().st_size
        estimate = estimated_rows(row["file_path"], size)
    except (OSError, TypeError, KeyError):
        estimate = None
    if not estimate:
        return {"percent": None, "phase": f"Reading rows: {read:,} so far"}
    left = eta(row, read, estimate)
    return {
        "percent": min(90, round(90 * read / estimate)),
        "phase": f"Reading rows: {read:,} of about {estimate:,}" + (f", {left}" if left else ""),
    }


def eta(row: dict[str, Any], read: int, estimate: int, now: datetime | None = None) -> str | None:
    """ "about N min left" for the reading, from the pace since the run really started; None until
    there is a pace to go by (a few seconds and a thousand rows)."""
    started = row.get("started_at")
    if not started or read < 1000 or read >= estimate:
        return None
    elapsed = ((now or datetime.now(UTC)) - started).total_seconds()
    if elapsed < 3:
        return None
    seconds = (estimate - read) * elapsed / read
    if seconds < 60:
        return "less than a minute left"
    minutes = round(seconds / 60)
    return f"about {minutes} min left" if minutes < 120 else f"about {minutes / 60:.0f} h left"


def column_map_rows(cmap: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The column map used, as (column, target) rows."""
    if not cmap:
        return []
    out = [{"column": cmap[f], "target": f} for f in CORE_FIELDS if cmap.get(f)]
    u = cmap.get("unsubscribed")
    if u:
        column, invert = (u, False) if isinstance(u, str) else (u.get("column"), bool(u.get("invert")))
        out.append({"column": column, "target": "unsubscribed" + (" (inverted: the column means opted in)" if invert else "")})
    for key, spec in (cmap.get("properties") or {}).items():
        out.append({"column": spec.get("column"), "target": f"property {key} ({spec.get('type', 'string')})"})
    return out


def _label(row: dict[str, Any]) -> str:
    """Resend's status in words, or what happened to it after: cancelled, reverted."""
    if row.get("cancelled_at") is not None:
        return "Cancelled"
    if row.get("reverted_at") is not None:
        return "Reverted"
    status: str = row["status"]
    return LABELS.get(status, status)


def import_view(row: dict[str, Any]) -> dict[str, Any]:
    api = render_import(row)
    info = row.get("file_info") or {}
    options = row.get("options") or {}
    return api | {
        "filename": row.get("filename") or "(no name)",
        "source": row.get("source"),
        "status_label": OUTCOME_LABELS.get(api["outcome"]) or _label(row),
        "badge": api["outcome"] or row["status"],
        "running": row["status"] in ("queued", "in_progress"),
        "created": when(row.get("created_at")),
        "started": when(row.get("started_at")),
        "finished": when(row.get("completed_at")),
        "progress": progress(row),
        "rows_read": int(row.get("rows_read") or 0),
        "encoding": info.get("encoding"),
        "delimiter": info.get("delimiter"),
        "column_map": column_map_rows(row.get("column_map") or options.get("column_map")),
        "on_conflict": options.get("on_conflict", "upsert"),
        "merge_details": row.get("merge_details") or {},
        "run_id": row.get("run_id"),
        # Cancel while it has written nothing; revert once it has, while its undo record is kept.
        "can_cancel": row["status"] in ("queued", "in_progress") and row.get("merged_at") is None,
        "can_revert": row.get("merged_at") is not None and row.get("reverted_at") is None and row.get("undo_state") == "kept",
        "cancelled": row.get("cancelled_at") is not None,
        "reverted": row.get("reverted_at") is not None,
        "undo_dropped": row.get("undo_state") == "dropped",
    }


def queue_words(ahead: list[dict[str, Any]]) -> str:
    """Why a queued import waits: the team's imports run one at a time, so it waits for those
    created before it; with none, for a free run (the server runs a few imports at once)."""
    if not ahead:
        return "Queued: waiting for a free run (the server runs a few imports at a time); it starts by itself"
    first = next((a for a in ahead if a["status"] == "in_progress"), ahead[0])
    more = len(ahead) - 1
    words = f"Queued: waiting for your import “{first['filename'] or '(no name)'}” to finish"
    if more:
        words += f", then {more:,} more of your team's imports created before this one"
    return words + " (a team's imports run one at a time)"
