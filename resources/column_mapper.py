"""The column mapper: decides which CSV column feeds which contact field or property.

- An explicit column map always wins. Columns it leaves out are left alone, unless the import
  asks `auto_map`: then the engines fill them (core fields, existing properties, and new
  properties only with `auto_create_properties`).
- Without a map: a mapping a person accepted before for the same headers (engine "memory") is
  used as it is. Otherwise the engines suggest (the model when OPENAI_API_KEY is set, else the
  offline engine) and the core fields (email, first_name, last_name, unsubscribed, inverted or
  not) and the team's EXISTING properties are mapped; NEW properties only with
  `auto_create_properties`, so nothing unreviewed adds to a team's properties.

Every decision (column, target, confidence, reason, engine, applied) is recorded for the run's
metadata.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Optional

from dagster import ConfigurableResource

from roster.mapping import ExistingProperty, Suggestion, to_column_map
from roster.mapping.engine import suggest
from roster.mapping.openai_engine import OpenAISettings
from schemas.column_map import CORE_FIELDS, ColumnMap, ColumnMapError

# Below this an engine's suggestion is shown to a person but not applied by an import on its own.
MIN_CONFIDENCE = 0.5
CORE_TARGETS = (*CORE_FIELDS, "unsubscribed")


@dataclass
class Resolution:
    column_map: ColumnMap
    # {"column", "target", "property_key", "property_type", "invert", "confidence", "reason", "engine", "applied"}
    decisions: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    engine: str = "column_map"  # which engine's suggestions were used: column_map, memory, openai, offline


def _decision(s: Suggestion, applied: bool, why_not: str | None = None) -> dict:
    d = {
        "column": s.column, "target": s.target, "property_key": s.property_key,
        "property_type": s.property_type, "invert": s.invert, "is_new_property": s.is_new_property,
        "confidence": s.confidence, "reason": s.reason, "engine": s.engine, "applied": applied,
    }
    if why_not:
        d["not_applied"] = why_not
    return d


def _slot(s: Suggestion) -> str | None:
    if s.target in CORE_TARGETS:
        return s.target
    if s.target == "property" and s.property_key:
        return "property:" + s.property_key
    return None


def _map_slots(cmap: ColumnMap) -> set[str]:
    slots = {f for f in CORE_FIELDS if getattr(cmap, f)}
    if cmap.unsubscribed_column:
        slots.add("unsubscribed")
    return slots | {"property:" + k for k in cmap.properties}


class ColumnMapper(ConfigurableResource):
    """engine: auto (the model when OPENAI_API_KEY is set, else offline), openai, or offline;
    `ROSTER_MAPPING_ENGINE` overrides auto. model: else `ROSTER_OPENAI_MODEL`, else gpt-4o-mini.
    timeout_seconds: else `ROSTER_MAPPING_TIMEOUT`, else 15. share_values: send sample values to
    the model (else only their shapes); else `ROSTER_MAPPING_SHARE_VALUES` (default 1)."""

    engine: str = "auto"
    model: Optional[str] = None
    timeout_seconds: Optional[float] = None
    share_values: Optional[bool] = None
    base_url: Optional[str] = None

    def engine_name(self) -> str:
        if self.engine == "auto":
            return os.environ.get("ROSTER_MAPPING_ENGINE") or "auto"
        return self.engine

    def openai_settings(self) -> OpenAISettings:
        return OpenAISettings.from_env(model=self.model, timeout=self.timeout_seconds,
                                       share_values=self.share_values, base_url=self.base_url)

    def suggest(self, headers: list[str], samples: dict[str, list[str]], existing: dict[str, str],
                remembered: dict | None = None, offline_only: bool = False):
        props = [ExistingProperty(k, t) for k, t in existing.items()]
        return suggest(headers, samples, props, engine="offline" if offline_only else self.engine_name(),
                       openai_settings=None if offline_only else self.openai_settings(), remembered=remembered)

    def resolve(
        self,
        headers: list[str],
        samples: dict[str, list[str]],
        existing: dict[str, str],
        explicit: ColumnMap | None,
        *,
        auto_map: bool = False,
        auto_create_properties: bool = False,
        remembered: dict | None = None,
        offline_only: bool = False,
    ) -> Resolution:
        """offline_only: never ask the model (the preflight check before an import is queued)."""
        if explicit is not None:
            explicit.check_against(headers)
            mapped = set(explicit.columns())
            decisions = [{"column": c, "target": "mapped", "engine": "column_map", "confidence": 1.0,
                          "reason": "given in the column map", "applied": True} for c in explicit.columns()]
            rest = [h for h in headers if h not in mapped]
            if not auto_map or not rest:
                decisions += [{"column": h, "target": "ignore", "engine": "column_map", "confidence": 1.0,
                               "reason": "not in the column map (auto_map is off)", "applied": False} for h in rest]
                return Resolution(explicit, decisions)
            outcome = self.suggest(headers, samples, existing, offline_only=offline_only)
            taken = _map_slots(explicit)
            chosen, decided = self._choose([s for s in outcome.suggestions if s.column not in mapped],
                                           taken, auto_create_properties, reviewed=False)
            extra = to_column_map(chosen)
            data = explicit.to_api()
            for f in (*CORE_FIELDS, "unsubscribed"):
                if f in extra and not data.get(f):
                    data[f] = extra[f]
            data["properties"] = {**data.get("properties", {}), **extra.get("properties", {})}
            engine = chosen[0].engine if chosen else "column_map"
            return Resolution(ColumnMap.model_validate(data), decisions + decided, outcome.notes, engine)

        outcome = self.suggest(headers, samples, existing, remembered=remembered, offline_only=offline_only)
        reviewed = bool(remembered)
        chosen, decisions = self._choose(outcome.suggestions, set(), auto_create_properties, reviewed=reviewed)
        cmap = to_column_map(chosen)
        if "email" not in cmap:
            # The header says it: keep the rows (and fail the bad ones) rather than refuse the file.
            by_name = {h.strip().lower(): h for h in headers}
            if "email" in by_name and by_name["email"] not in {s.column for s in chosen}:
                cmap["email"] = by_name["email"]
                decisions = [d if d["column"] != by_name["email"] else
                             {**d, "target": "email", "applied": True, "engine": "header",
                              "reason": "the header is 'email'"} for d in decisions]
        if "email" not in cmap:
            raise ColumnMapError(
                "missing required email column: no header names an email column and no column holds email addresses")
        engines = {s.engine for s in chosen}
        engine = "memory" if reviewed else ("openai" if "openai" in engines else "offline")
        return Resolution(ColumnMap.model_validate(cmap), decisions, outcome.notes, engine)

    @staticmethod
    def _choose(suggestions: list[Suggestion], taken: set[str], create: bool,
                reviewed: bool) -> tuple[list[Suggestion], list[dict]]:
        """The suggestions an import applies on its own, and a decision for every column."""
        chosen, decisions = [], []
        for s in suggestions:
            why_not = None
            slot = _slot(s)
            if s.target == "ignore":
                why_not = "nothing to map"
            elif slot and slot in taken:
                why_not = f"{slot} is already mapped"
            elif not reviewed and s.confidence < MIN_CONFIDENCE:
                why_not = f"confidence {s.confidence:.2f} is below {MIN_CONFIDENCE}: review it"
            elif s.target == "property" and s.is_new_property and not (create or reviewed):
                why_not = "a new property: created only when the import asks auto_create_properties"
            if why_not:
                decisions.append(_decision(s, False, why_not))
                continue
            if slot:
                taken.add(slot)
            chosen.append(s)
            decisions.append(_decision(s, True))
        return chosen, decisions


def reconcile_property_types(column_map: ColumnMap, existing: dict[str, str]) -> ColumnMap:
    """An existing property keeps its type. A map that leaves the type out takes it; a map that
    names another type is refused, since the values would not fit what the property holds."""
    properties = {}
    for key, spec in column_map.properties.items():
        if key in existing and "type" not in spec.model_fields_set:
            spec = spec.model_copy(update={"type": existing[key]})
        elif key in existing and existing[key] != spec.type:
            raise ColumnMapError(
                f"property {key!r} exists as a {existing[key]}, but the column map gives it type {spec.type!r}"
            )
        properties[key] = spec
    return column_map.model_copy(update={"properties": properties})
