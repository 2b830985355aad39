"""Typed results: dataclasses built from the API's JSON (unknown keys are kept in `raw`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

if TYPE_CHECKING:  # for the type checker only: the SDK needs nothing of the server at run time
    from schemas.import_options import Subscription
    from schemas.rules import PropertyType
    from schemas.tables import ImportStatus

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
_D = TypeVar("_D")
Outcome = Literal[
    "completed", "completed_with_failures", "nothing_imported", "dry_run", "guard_tripped", "failed", "cancelled", "reverted"
]


def _build(cls: type[_D], data: dict[str, Any]) -> _D:
    names = {f.name for f in fields(cls)} - {"raw"}  # type: ignore[arg-type]  # cls is one of the dataclasses below
    obj = cls(**{k: v for k, v in data.items() if k in names})
    obj.raw = data  # type: ignore[attr-defined]
    return obj


class _FromDict(Protocol[T_co]):
    def from_dict(self, data: dict[str, Any], /) -> T_co: ...


@dataclass
class ImportCounts:
    total: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass
class ContactImport:
    id: str
    status: ImportStatus
    created_at: str
    completed_at: str | None = None
    counts: ImportCounts = field(default_factory=ImportCounts)
    error: str | None = None
    object: str = "contact_import"
    # Roster's addition: {"phase", "rows_read", "rows_staged", "memberships"}; None from a server without it.
    progress: dict[str, Any] | None = None
    # Roster's additions, what happened: outcome is completed, completed_with_failures,
    # nothing_imported, dry_run, guard_tripped, failed, cancelled or reverted (None while it
    # runs); summary, one line.
    outcome: Outcome | None = None
    summary: str | None = None
    dry_run: bool = False
    # [{"reason", "count", "samples": [{"row_number", "email", "reason", "data"}]}], most frequent first
    failures_by_reason: list[dict[str, Any]] | None = None
    properties_created: list[str] | None = None  # a dry run: that it would create
    consent_kept: dict[str, Any] | None = None  # {"unsubscribed", "topic_opt_outs"}: opt-outs kept
    started_as: str | None = None  # a dry run: the import it was started as
    dry_run_of: str | None = None  # an import started from a dry run
    # Roster's additions: when it was cancelled (status failed) or reverted (status completed), and
    # what the revert did ({"deleted", "restored", "left_unchanged", ...}).
    cancelled_at: str | None = None
    reverted_at: str | None = None
    revert: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def done(self) -> bool:
        """Ended: completed (reverted or not) or failed (cancelled or not)."""
        return self.status in ("completed", "failed")

    @property
    def rows_failed(self) -> bool:
        """Some rows failed (the import completed or not)."""
        return self.counts.failed > 0

    @property
    def cancelled(self) -> bool:
        return self.cancelled_at is not None

    @property
    def reverted(self) -> bool:
        return self.reverted_at is not None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ContactImport:
        obj = _build(cls, {**data, "counts": _build(ImportCounts, data.get("counts") or {})})
        obj.raw = data
        return obj


@dataclass
class Created:
    """What a POST returns: the new object's id (and `object`)."""

    id: str
    object: str | None = None
    name: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Created:
        return _build(cls, data)


@dataclass
class Deleted:
    id: str
    deleted: bool = True
    object: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Deleted:
        return _build(cls, data)


@dataclass
class ImportFailure:
    row_number: int
    email: str | None
    reason: str
    data: dict[str, Any]
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImportFailure:
        return _build(cls, data)


@dataclass
class Contact:
    id: str
    email: str
    first_name: str | None = None
    last_name: str | None = None
    unsubscribed: bool = False
    created_at: str | None = None
    # Resend's shape: {"plan": {"value": "pro", "type": "string"}}; `property_values` has the bare values.
    properties: dict[str, dict[str, Any]] = field(default_factory=dict)
    object: str = "contact"
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def property_values(self) -> dict[str, Any]:
        """{"plan": "pro"}: each property's value."""
        return {k: (v.get("value") if isinstance(v, dict) else v) for k, v in self.properties.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Contact:
        return _build(cls, data)


@dataclass
class ContactTopic:
    """A topic with one contact's subscription (opt_in or opt_out)."""

    id: str
    name: str
    subscription: Subscription
    description: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ContactTopic:
        return _build(cls, data)


@dataclass
class ContactProperty:
    id: str
    key: str
    type: PropertyType
    fallback_value: Any = None
    created_at: str | None = None
    object: str = "contact_property"
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ContactProperty:
        return _build(cls, data)


@dataclass
class Segment:
    id: str
    name: str
    created_at: str | None = None
    object: str = "segment"
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Segment:
        return _build(cls, data)


@dataclass
class Topic:
    id: str
    name: str
    default_subscription: Subscription = "opt_in"
    description: str | None = None
    created_at: str | None = None
    object: str = "topic"
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Topic:
        return _build(cls, data)


@dataclass
class ColumnSuggestion:
    """Where one column should go: target is email, first_name, last_name, unsubscribed (invert: the
    column means the opposite), property (property_key, property_type) or ignore."""

    column: str
    target: str
    property_key: str | None = None
    property_type: PropertyType | None = None
    invert: bool = False
    confidence: float = 0.0
    reason: str = ""
    engine: str = ""
    is_new_property: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnSuggestion:
        return _build(cls, data)


@dataclass
class ColumnMapSuggestion:
    """What suggest_column_map returns: `column_map` is ready for imports.create(column_map=...)."""

    column_map: dict[str, Any]
    suggestions: list[ColumnSuggestion]
    headers: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    object: str = "column_map_suggestion"
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def suggestion(self, column: str) -> ColumnSuggestion | None:
        return next((s for s in self.suggestions if s.column == column), None)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnMapSuggestion:
        obj = _build(cls, {**data, "suggestions": [ColumnSuggestion.from_dict(d) for d in data.get("suggestions", [])]})
        obj.raw = data
        return obj


@dataclass
class ListPage(Generic[T]):
    data: list[T]
    has_more: bool
    object: str = "list"

    def __iter__(self) -> Iterator[T]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    @classmethod
    def of(cls, item_cls: _FromDict[T], data: dict[str, Any]) -> ListPage[T]:
        return cls(data=[item_cls.from_dict(d) for d in data.get("data", [])], has_more=bool(data.get("has_more")))
