"""An import as Resend's API shows it, and as every other door prints it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, cast

from roster.importing.outcome import outcome, summary
from roster.importing.progress import progress
from roster.safety.public_errors import public_text
from schemas.import_object import (
    ContactImportBasics,
    ContactImportObject,
    FailedWith,
    ImportCounts,
    UndoFields,
    WhatHappened,
)

COUNTS = ("total", "created", "updated", "skipped", "failed")


def pg_timestamp(value: datetime | None) -> str | None:
    """PostgreSQL's rendering, as Resend's API shows it: 2026-05-15 18:32:37.823+00."""
    if value is None:
        return None
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}+00"


def render_import(row: dict[str, Any]) -> ContactImportObject:
    """The import object of GET /contacts/imports/{id}, plus `progress`, and `error` when it
    failed (in words that say what to do, never the server's internals)."""
    basics: ContactImportBasics = {
        "object": "contact_import",
        "id": str(row["id"]),
        "status": row["status"],
        "created_at": pg_timestamp(row["created_at"]),
        "completed_at": pg_timestamp(row["completed_at"]),
        "counts": import_counts(row),
        # Roster's addition (Resend's clients ignore it): which phase the run is in, rows so far.
        "progress": progress(row),
    }
    failed: FailedWith = {}
    if row["status"] == "failed" and row.get("error"):
        failed["error"] = public_text(row["error"])
    return {**basics, **failed, **what_happened(row, failed.get("error")), **undo_fields(row)}


def import_counts(row: dict[str, Any]) -> ImportCounts:
    return cast(ImportCounts, {k: int(row[k]) for k in COUNTS})


def what_happened(row: dict[str, Any], error: str | None) -> WhatHappened:
    """Roster's additions that say what the import did (roster/importing/outcome.py), and, once it
    decided, the details: the failed rows by cause, the properties it created (a dry run: would
    create), the opt-outs it kept. A dry run says so, and which import it was started as; an import
    started from one names it."""
    details = row.get("merge_details") or {}
    out: WhatHappened = {
        "outcome": outcome(row),
        "summary": summary(row, error),
        "dry_run": bool((row.get("options") or {}).get("dry_run")),
    }
    if "failures_by_reason" in details:
        out["failures_by_reason"] = details["failures_by_reason"]
    if "properties_created" in details:
        out["properties_created"] = details["properties_created"]
    if row.get("merged_at") is not None:
        out["consent_kept"] = {
            "unsubscribed": int(details.get("kept_unsubscribed", 0)),
            "topic_opt_outs": int(details.get("kept_topic_opt_outs", 0)),
        }
    if out["dry_run"]:
        out["started_as"] = str(row["started_as"]) if row.get("started_as") else None
    if row.get("dry_run_of"):
        out["dry_run_of"] = str(row["dry_run_of"])
    return out


def undo_fields(row: dict[str, Any]) -> UndoFields:
    """Roster's additions for a cancelled or reverted import (absent otherwise): `status` stays
    Resend's (a cancelled import is `failed`, a reverted one `completed`)."""
    out: UndoFields = {}
    if row.get("cancelled_at") is not None:
        out["cancelled_at"] = pg_timestamp(row["cancelled_at"])
    if row.get("reverted_at") is not None:
        out["reverted_at"] = pg_timestamp(row["reverted_at"])
        out["revert"] = dict(row.get("revert_result") or {})
    return out


ENDED = ("completed", "failed")


def end_state(obj: Mapping[str, Any]) -> str | None:
    """How a rendered import ended, in words (None while it runs): what `roster imports watch`
    and the client CLI print, for every end state including cancelled and reverted."""
    if obj.get("status") not in ENDED:
        return None
    if obj.get("cancelled_at"):
        return f"cancelled at {obj['cancelled_at']}: nothing was imported"
    if obj.get("reverted_at"):
        r = obj.get("revert") or {}
        text = (
            f"reverted at {obj['reverted_at']}: {r.get('deleted', 0):,} created contacts deleted, "
            f"{r.get('restored', 0):,} restored, {r.get('left_unchanged', 0):,} left as they are"
        )
        if r.get("kept_unsubscribed") or r.get("kept_topic_opt_outs"):
            text += (
                f" ({r.get('kept_unsubscribed', 0):,} unsubscribes and {r.get('kept_topic_opt_outs', 0):,} topic opt-outs kept)"
            )
        if r.get("properties_deleted"):
            text += f"; properties it created deleted: {', '.join(r['properties_deleted'])}"
        if r.get("properties_kept"):
            kept = ", ".join(f"{p['key']} ({p['reason']})" for p in r["properties_kept"])
            text += f"; properties it created kept: {kept}"
        return text
    return cast("str | None", obj["status"])
