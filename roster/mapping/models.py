"""The public value types of the mapping engine (shared by the offline and any other engine)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from schemas.rules import MAP_TARGETS

TARGETS = MAP_TARGETS


@dataclass(frozen=True)
class ExistingProperty:
    key: str
    type: str  # "string" | "number" | "boolean"


@dataclass(frozen=True)
class Suggestion:
    column: str  # the CSV header
    target: str  # one of TARGETS
    property_key: str | None  # for target == "property"
    property_type: str | None  # for target == "property"
    is_new_property: bool  # property_key is not one of the team's existing properties
    invert: bool  # only for "unsubscribed": the values mean subscribed / opted in
    confidence: float  # 0..1
    reason: str
    engine: str = "offline"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
