"""Check before Start: a completed dry run of the reviewed draft, as the page before the real
Start shows it. What it would create, update, skip and fail (its counts), the failed rows by
reason with a few sample rows each, the properties it would create, the file's columns the map
leaves out, the segments, and the failure guard the real import will apply, set against the
counts the check found. Start for real reuses the dry run (ImportService.start_dry_run)."""

from __future__ import annotations

from typing import Any

from schemas.import_options import OptionsError, parse_options
from schemas.rules import CORE_FIELDS

# The failure guard offered before Start, which the person can change or clear. Past it the
# import stops and writes nothing. 5%: list exports usually carry a few percent of bad addresses
# (typos, role accounts, blanks), which should not stop an import; far more than that usually
# means a wrong column mapped to email, a wrong delimiter or a wrong file, which should.
DEFAULT_GUARD = "5%"


def ignored_columns(headers: list[str], column_map: dict[str, Any] | None) -> list[str]:
    """The file's columns the column map does not read, in the file's order."""
    cmap = column_map or {}
    used = {cmap.get(f) for f in CORE_FIELDS}
    unsubscribed = cmap.get("unsubscribed")
    used.add(unsubscribed.get("column") if isinstance(unsubscribed, dict) else unsubscribed)
    used |= {spec.get("column") for spec in (cmap.get("properties") or {}).values()}
    return [h for h in headers if h not in used]


def guard_verdict(guard: str, total: int, failed: int) -> tuple[int | None, str]:
    """The limit the guard makes of this file's rows, and what it means for Start, in words."""
    try:
        limit = parse_options({"max_failed_rows": guard or None}).failure_limit(total)
    except OptionsError:
        return None, ""
    if limit is None:
        return None, "No limit: Start imports every valid row, however many fail."
    if failed > limit:
        return limit, (
            f"{failed:,} rows would fail, more than this limit allows ({limit:,} of {total:,}): "
            "Start would stop and import nothing. Raise or clear the limit to import the valid rows."
        )
    return limit, f"{failed:,} rows would fail, within this limit ({limit:,} of {total:,}): Start imports the valid rows."


def check_result(row: dict[str, Any], imp: dict[str, Any], guard: str) -> dict[str, Any]:
    """What the check page shows, from the dry run's row and its dashboard view."""
    cmap = row.get("column_map") or {}
    types = {key: spec.get("type", "string") for key, spec in (cmap.get("properties") or {}).items()}
    counts = imp["counts"]
    limit, verdict = guard_verdict(guard, counts["total"], counts["failed"])
    return {
        "counts": counts,
        "failed_share": f"{100 * counts['failed'] / counts['total']:.1f}%" if counts["total"] else "0%",
        "by_reason": imp.get("failures_by_reason") or [],
        "new_properties": [(key, types.get(key, "string")) for key in imp.get("properties_created") or []],
        "ignored": ignored_columns((row.get("file_info") or {}).get("headers") or [], cmap),
        "segments": imp.get("segments") or [],
        "guard": guard,
        "guard_limit": limit,
        "guard_verdict": verdict,
        "guard_trips": limit is not None and counts["failed"] > limit,
    }
