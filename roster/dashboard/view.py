"""An import as the dashboard shows it: the API's rendering (roster/importing/render.py) plus what
a person needs beside it (file, source, times, progress, the column map used)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from roster.importing.progress import describe
from roster.importing.render import render_import

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


def progress(row: dict) -> dict:
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
    return {"percent": min(90, round(90 * read / estimate)), "phase": f"Reading rows: {read:,} of about {estimate:,}"}


def column_map_rows(cmap: dict | None) -> list[dict]:
    """The column map used, as (column, target) rows."""
    if not cmap:
        return []
    out = [{"column": cmap[f], "target": f} for f in ("email", "first_name", "last_name") if cmap.get(f)]
    u = cmap.get("unsubscribed")
    if u:
        column, invert = (u, False) if isinstance(u, str) else (u.get("column"), bool(u.get("invert")))
        out.append({"column": column, "target": "unsubscribed" + (" (inverted: the column means opted in)" if invert else "")})
    for key, spec in (cmap.get("properties") or {}).items():
        out.append({"column": spec.get("column"), "target": f"property {key} ({spec.get('type', 'string')})"})
    return out


def import_view(row: dict) -> dict:
    api = render_import(row)
    info = row.get("file_info") or {}
    options = row.get("options") or {}
    return api | {
        "filename": row.get("filename") or "(no name)",
        "source": row.get("source"),
        "status_label": OUTCOME_LABELS.get(api["outcome"]) or LABELS.get(row["status"], row["status"]),
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
