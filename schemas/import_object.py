"""An import as every door shows it (roster/importing/render.py makes it): the REST API's
`contact_import` object, which the CLI prints, the dashboard shows and the drop folder writes beside
a processed file. Types for the checker only: the REST API's response models
(roster/api/routers/imports.py) validate the same shape on the wire, and tests/test_import_object.py
checks that the two name the same fields."""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

from schemas.tables import ImportStatus


class ImportCounts(TypedDict):
    """`total` = `created + updated + skipped + failed`."""

    total: int
    created: int
    updated: int
    skipped: int
    failed: int


class ImportProgress(TypedDict):
    """Roster's addition: where the import's run is (roster/importing/progress.py)."""

    phase: Literal["reading", "staging", "merging", "done"] | None
    rows_read: int
    rows_staged: int | None
    memberships: int | None  # segment memberships and topic subscriptions written; None until merged


class ConsentKept(TypedDict):
    """Opt-outs the import kept although the file said subscribed (no `resubscribe`)."""

    unsubscribed: int
    topic_opt_outs: int


class FailedWith(TypedDict, total=False):
    """Present when the import failed: why, in words that say what to do."""

    error: str | None


class WhatHappened(TypedDict):
    """Roster's additions that say what the import did (roster/importing/outcome.py)."""

    outcome: str | None
    summary: str
    dry_run: bool
    failures_by_reason: NotRequired[list[dict[str, Any]]]  # {"reason", "count", "samples"}
    properties_created: NotRequired[list[str]]
    consent_kept: NotRequired[ConsentKept]
    started_as: NotRequired[str | None]  # a dry run: the import it was started as
    dry_run_of: NotRequired[str]  # an import started from a dry run: that dry run


class UndoFields(TypedDict, total=False):
    """Present once the import was cancelled, or reverted (with what the revert did)."""

    cancelled_at: str | None
    reverted_at: str | None
    revert: dict[str, Any]  # roster/store/undo.py's result: deleted, restored, left_unchanged, ...


class ContactImportBasics(TypedDict):
    """Resend's fields, and Roster's `progress`."""

    object: Literal["contact_import"]
    id: str
    status: ImportStatus
    created_at: str | None
    completed_at: str | None
    counts: ImportCounts
    progress: ImportProgress


class ContactImportObject(ContactImportBasics, FailedWith, WhatHappened, UndoFields):
    """GET /contacts/imports/{id}: the fields in the order the object lists them."""
