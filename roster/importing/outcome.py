"""What happened to an import, at a glance: `outcome` and a one-line `summary`, beside `status`.

`status` keeps Resend's four values (queued, in_progress, completed, failed), so Resend's clients
keep working; these additive fields say what "completed" or "failed" meant:

- completed: every row imported (created, updated, or skipped by rule);
- completed_with_failures: imported, but some rows failed (amber: "completed, 179,980 of 200,000
  rows failed");
- nothing_imported: completed, but not one contact was created or updated and rows failed, or the
  file had no rows (red);
- dry_run: a dry run decided what the import would do; nothing was written;
- guard_tripped: more rows failed than max_failed_rows allows; nothing was written;
- failed: the import could not run (the error says why); nothing was written;
- cancelled: stopped before its contacts were written (status failed);
- reverted: completed, then undone (status completed; `revert` says what the revert did).
Queued and running imports have no outcome yet (null); their summary says where they are.
"""

from __future__ import annotations

from typing import Any

from roster.importing.progress import describe

OUTCOMES = (
    "completed",
    "completed_with_failures",
    "nothing_imported",
    "dry_run",
    "guard_tripped",
    "failed",
    "cancelled",
    "reverted",
)


def outcome(row: dict[str, Any]) -> str | None:
    status, details = row["status"], row.get("merge_details") or {}
    if status in ("completed", "failed") and row.get("cancelled_at") is not None:
        return "cancelled"
    if status == "completed" and row.get("reverted_at") is not None:
        return "reverted"
    if status == "failed":
        return "guard_tripped" if details.get("guard") else "failed"
    if status != "completed":
        return None
    if (row.get("options") or {}).get("dry_run"):
        return "dry_run"
    imported = int(row["created"]) + int(row["updated"])
    if imported == 0 and (int(row["failed"]) > 0 or int(row["total"]) == 0):
        return "nothing_imported"
    return "completed_with_failures" if int(row["failed"]) else "completed"


def _n(value: Any) -> str:
    return f"{int(value):,}"


def summary(row: dict[str, Any], error: str | None = None) -> str:
    """One line a person reads first, in the words of the outcome."""
    total, failed = int(row["total"]), int(row["failed"])
    done = f"{_n(row['created'])} created, {_n(row['updated'])} updated, {_n(row['skipped'])} skipped"
    match outcome(row):
        case None:
            phase, doing = describe(row)
            return f"{str(row['status']).replace('_', ' ')}: {phase}" + (f", {doing}" if doing else "")
        case "completed":
            return f"completed: {done}"
        case "completed_with_failures":
            return f"completed, {_n(failed)} of {_n(total)} rows failed ({done})"
        case "nothing_imported":
            if total == 0:
                return "nothing was imported: the file has no rows"
            return f"nothing was imported: {_n(failed)} of {_n(total)} rows failed"
        case "dry_run":
            would = f"would create {_n(row['created'])}, update {_n(row['updated'])}, skip {_n(row['skipped'])}"
            failing = f"; {_n(failed)} of {_n(total)} rows would fail" if failed else ""
            return f"dry run, nothing written: {would}{failing}"
        case "cancelled":
            return "cancelled, nothing was imported"
        case "reverted":
            r = row.get("revert_result") or {}
            return (
                f"reverted: {_n(r.get('deleted', 0))} created contacts deleted, {_n(r.get('restored', 0))} restored, "
                f"{_n(r.get('left_unchanged', 0))} left as they are"
            )
        case "guard_tripped":
            limit = (row.get("merge_details") or {}).get("guard", {}).get("max_failed_rows")
            return f"failed, nothing was imported: {_n(failed)} of {_n(total)} rows failed, more than max_failed_rows ({limit})"
        case _:
            return f"failed, nothing was imported: {error}" if error else "failed, nothing was imported"
