"""How far an import's run has got: the same words for the API, the CLI's bar and the dashboard.

The phases, in order (`contact_imports.phase`, NULL until a run starts):
- reading: the file opened (compression, encoding, delimiter, headers) and the column map decided;
- staging: every row read, validated and copied into the import's staging table; `rows_read`
  grows batch by batch;
- merging: one statement upserts the staged rows into contacts and, in the same transaction,
  writes their segment memberships and topic subscriptions (nothing is half-done, so nothing can
  be counted until it commits);
- done: the import completed.
A failed import keeps the phase it failed in; one put back in the queue after its run died has
none until a run starts it again.
"""

from __future__ import annotations

from typing import Any

from schemas.import_object import ImportProgress

PHASES = ("reading", "staging", "merging", "done")


def progress(row: dict[str, Any]) -> ImportProgress:
    """The `progress` object of an import: an addition to Resend's shape, which has none."""
    details = row.get("merge_details") or {}
    merged = row.get("merged_at") is not None
    return {
        "phase": row.get("phase"),
        "rows_read": int(row.get("rows_read") or 0),
        "rows_staged": None if row.get("staged_rows") is None else int(row["staged_rows"]),
        # Segment memberships and topic subscriptions the merge wrote; null until it committed.
        "memberships": int(details.get("segments", 0)) + int(details.get("topics", 0)) if merged else None,
    }


def describe(row: dict[str, Any]) -> tuple[str, str]:
    """(phase, what it is doing) in words, for a progress bar."""
    phase = row.get("phase")
    options = row.get("options") or {}
    if row.get("merged_at") is not None:
        memberships = progress(row)["memberships"]
        counts = (
            f"created {row['created']:,} · updated {row['updated']:,} · skipped {row['skipped']:,} · failed {row['failed']:,}"
        )
        return phase or "done", counts + (f" · {memberships:,} memberships" if memberships else "")
    if phase == "merging":
        staged = row.get("staged_rows") or 0
        into = "contacts and their memberships" if options.get("segments") or options.get("topics") else "contacts"
        return "merging", f"{staged:,} rows into {into}, in one transaction"
    if phase == "staging":
        return "staging", f"{row.get('rows_read') or 0:,} rows read and validated"
    if phase == "reading":
        return "reading", "opening the file, deciding the column map"
    return str(row.get("status", "queued")).replace("_", " "), ""
