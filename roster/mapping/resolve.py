"""Where a column is mapped: which CSV column feeds which contact field or property, and why.

- Resend's rules first: every key of a map is optional, and the standard fields it leaves out come
  from the headers named exactly `email`, `first_name`, `last_name`, `unsubscribed`. If that gives
  an email column and the import does not ask `auto_map`, the file imports as Resend would.
- An explicit column map always wins. Columns it leaves out are left alone, unless the import
  asks `auto_map`: then the engines fill them (core fields, existing properties, and new
  properties only with `auto_create_properties`). A map that finds no email column (Resend would
  refuse the file) gets its core fields filled by the engines.
- Without a map, where Resend would refuse the file (no `email` header), or with `auto_map`: a
  mapping a person accepted before for the same headers (engine "memory") is used as it is.
  Otherwise the engines suggest and the core fields (email, first_name, last_name, unsubscribed,
  inverted or not) and the team's EXISTING properties are mapped; NEW properties only with
  `auto_create_properties`, so nothing unreviewed adds to a team's properties.
- The engines are the offline engine, and the model only when OPENAI_API_KEY is set AND the
  team or the caller opted in (`model_mapping`, see roster/mapping/consent.py): a file's values
  never leave the server otherwise.

Every decision (column, target, confidence, reason, engine, applied) is recorded for the run's
metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from roster.mapping.column_map import to_column_map
from roster.mapping.engine import Outcome, suggest
from roster.mapping.models import ExistingProperty, Suggestion
from roster.mapping.openai_engine import OpenAISettings
from roster.runtime.settings import get_settings
from schemas.column_map import ColumnMap, ColumnMapError, PropertyColumn, UnsubscribedColumn
from schemas.rules import CORE_FIELDS, STANDARD_FIELDS, stored_type

# Below this an engine's suggestion is shown to a person but not applied by an import on its own.
MIN_CONFIDENCE = 0.5
CORE_TARGETS = STANDARD_FIELDS


@dataclass
class Resolution:
    column_map: ColumnMap
    # {"column", "target", "property_key", "property_type", "invert", "confidence", "reason", "engine", "applied"}
    decisions: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    engine: str = "column_map"  # which engine's suggestions were used: column_map, memory, openai, offline


def _decision(s: Suggestion, applied: bool, why_not: str | None = None) -> dict[str, Any]:
    d = {
        "column": s.column,
        "target": s.target,
        "property_key": s.property_key,
        "property_type": s.property_type,
        "invert": s.invert,
        "is_new_property": s.is_new_property,
        "confidence": s.confidence,
        "reason": s.reason,
        "engine": s.engine,
        "applied": applied,
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


_NO_EMAIL = (
    "missing required email column: no header is named `email`, the column map names none, "
    "and no other column holds email addresses"
)


def _given(explicit: ColumnMap | None, completed: ColumnMap) -> list[dict[str, Any]]:
    """A decision for each column the map names, and for each taken from its standard header name."""
    named = set(explicit.columns()) if explicit is not None else set()
    out = [
        {
            "column": col,
            "target": "mapped",
            "engine": "column_map",
            "confidence": 1.0,
            "reason": "given in the column map",
            "applied": True,
        }
        for col in (explicit.columns() if explicit else [])
    ]
    for f in completed.standard_fields():
        col = cast(UnsubscribedColumn, completed.unsubscribed_column).column if f == "unsubscribed" else getattr(completed, f)
        if col not in named:
            out.append(
                {
                    "column": col,
                    "target": f,
                    "engine": "standard",
                    "confidence": 1.0,
                    "reason": f"the header is named exactly {f!r} (Resend's default columns)",
                    "applied": True,
                }
            )
    return out


def _map_slots(cmap: ColumnMap) -> set[str]:
    slots = {f for f in CORE_FIELDS if getattr(cmap, f)}
    if cmap.unsubscribed_column:
        slots.add("unsubscribed")
    return slots | {"property:" + k for k in cmap.properties}


@dataclass(frozen=True)
class ColumnMapper:
    """engine: auto (the model when OPENAI_API_KEY is set, else offline), openai, or offline;
    `ROSTER_MAPPING_ENGINE` overrides auto. model: else `ROSTER_OPENAI_MODEL`, else gpt-4o-mini.
    timeout_seconds: else `ROSTER_MAPPING_TIMEOUT`, else 15. share_values: send sample values to
    the model (else only their shapes); else `ROSTER_MAPPING_SHARE_VALUES` (default 1)."""

    engine: str = "auto"
    model: str | None = None
    timeout_seconds: float | None = None
    share_values: bool | None = None
    base_url: str | None = None

    def engine_name(self) -> str:
        if self.engine == "auto":
            return get_settings().mapping_engine
        return self.engine

    def openai_settings(self) -> OpenAISettings:
        return OpenAISettings.from_env(
            model=self.model, timeout=self.timeout_seconds, share_values=self.share_values, base_url=self.base_url
        )

    def suggest(
        self,
        headers: list[str],
        samples: dict[str, list[str]],
        existing: dict[str, str],
        remembered: dict[str, Any] | None = None,
        offline_only: bool = False,
        model_allowed: bool = False,
    ) -> Outcome:
        """The engines' suggestions. The model is asked only with `model_allowed` (the team or the
        caller opted in to sending the file's headers and sample values to it) and never with
        `offline_only`; otherwise the offline engine answers, with a note when a key is set."""
        props = [ExistingProperty(k, t) for k, t in existing.items()]
        use_model = model_allowed and not offline_only
        outcome = suggest(
            headers,
            samples,
            props,
            engine=self.engine_name() if use_model else "offline",
            openai_settings=self.openai_settings() if use_model else None,
            remembered=remembered,
        )
        if (
            not use_model
            and not offline_only
            and not remembered
            and self.engine_name() != "offline"
            and self.openai_settings().available
        ):
            outcome.notes.append(
                "the model was not asked: neither the import nor the team opted in to "
                "sending the file to it (model_mapping); the offline engine answered"
            )
        return outcome

    def resolve(
        self,
        headers: list[str],
        samples: dict[str, list[str]],
        existing: dict[str, str],
        explicit: ColumnMap | None,
        *,
        auto_map: bool = False,
        auto_create_properties: bool = False,
        remembered: dict[str, Any] | None = None,
        offline_only: bool = False,
        model_allowed: bool = False,
    ) -> Resolution:
        """Resend's rules first: the explicit map (or none), its left-out standard fields taken from
        the headers named exactly `email`, `first_name`, `last_name`, `unsubscribed`. When that has an
        email column and the import does not ask `auto_map`, it is the answer: the file imports as
        Resend would import it. Roster's own mapping (a remembered map, the engines) works only when
        the import asks `auto_map`, or where Resend would refuse the file (no email column).

        offline_only: never ask the model (the preflight check before an import is queued).
        model_allowed: the model may be asked (the team or the caller opted in); else never."""
        if explicit is not None:
            explicit.check_against(headers)
        base = (explicit or ColumnMap()).with_standard_columns(headers)
        decisions = _given(explicit, base)
        if base.email and not auto_map:
            mapped = set(base.columns())
            why = (
                "not in the column map (auto_map is off)"
                if explicit is not None
                else "no column map: only the headers named email, first_name, last_name, unsubscribed are read "
                "(send auto_map to map the others)"
            )
            decisions += [
                {"column": h, "target": "ignore", "engine": "column_map", "confidence": 1.0, "reason": why, "applied": False}
                for h in headers
                if h not in mapped
            ]
            return Resolution(base, decisions, engine="column_map" if explicit is not None else "standard")
        if explicit is None:
            return self._infer(headers, samples, existing, auto_create_properties, remembered, offline_only, model_allowed)

        # A map with no email column (Resend would refuse the file), or auto_map: the engines fill
        # what the map leaves out; properties only with auto_map, new ones also need auto_create_properties.
        mapped = set(base.columns())
        rest = [h for h in headers if h not in mapped]
        if not rest:
            if not base.email:
                raise ColumnMapError(_NO_EMAIL)
            return Resolution(base, decisions)
        outcome = self.suggest(headers, samples, existing, offline_only=offline_only, model_allowed=model_allowed)
        candidates = [
            s
            for s in outcome.suggestions
            if s.column not in mapped and (auto_map or s.target in CORE_TARGETS or s.target == "ignore")
        ]
        chosen, decided = self._choose(candidates, _map_slots(base), auto_create_properties, reviewed=False)
        decided += [
            {
                "column": s.column,
                "target": "ignore",
                "engine": "column_map",
                "confidence": 1.0,
                "reason": "not in the column map (auto_map is off)",
                "applied": False,
            }
            for s in outcome.suggestions
            if s.column in rest and s not in candidates
        ]
        extra = to_column_map(chosen)
        update: dict[str, Any] = {}
        for f in CORE_TARGETS:
            current = base.unsubscribed if f == "unsubscribed" else getattr(base, f)
            if f in extra and current is None:
                update[f] = UnsubscribedColumn.model_validate(extra[f]) if isinstance(extra[f], dict) else extra[f]
        update["properties"] = {
            **base.properties,
            **{k: PropertyColumn.model_validate(v) for k, v in extra.get("properties", {}).items()},
        }
        cmap = base.model_copy(update=update)
        if not cmap.email:
            raise ColumnMapError(_NO_EMAIL)
        engine = chosen[0].engine if chosen else "column_map"
        return Resolution(cmap, decisions + decided, outcome.notes, engine)

    def _infer(
        self,
        headers: list[str],
        samples: dict[str, list[str]],
        existing: dict[str, str],
        auto_create_properties: bool,
        remembered: dict[str, Any] | None,
        offline_only: bool,
        model_allowed: bool,
    ) -> Resolution:
        """No column map: a remembered map as it is, else the engines' core fields and existing
        properties (new properties only with auto_create_properties)."""
        outcome = self.suggest(
            headers, samples, existing, remembered=remembered, offline_only=offline_only, model_allowed=model_allowed
        )
        reviewed = bool(remembered)
        chosen, decisions = self._choose(outcome.suggestions, set(), auto_create_properties, reviewed=reviewed)
        cmap = to_column_map(chosen)
        if "email" not in cmap:
            # The header says it: keep the rows (and fail the bad ones) rather than refuse the file.
            by_name = {h.strip().lower(): h for h in headers}
            if "email" in by_name and by_name["email"] not in {s.column for s in chosen}:
                cmap["email"] = by_name["email"]
                decisions = [
                    d
                    if d["column"] != by_name["email"]
                    else {**d, "target": "email", "applied": True, "engine": "header", "reason": "the header is 'email'"}
                    for d in decisions
                ]
        if "email" not in cmap:
            raise ColumnMapError(_NO_EMAIL)
        engines = {s.engine for s in chosen}
        engine = "memory" if reviewed else ("openai" if "openai" in engines else "offline")
        return Resolution(ColumnMap.model_validate(cmap), decisions, outcome.notes, engine)

    @staticmethod
    def _choose(
        suggestions: list[Suggestion], taken: set[str], create: bool, reviewed: bool
    ) -> tuple[list[Suggestion], list[dict[str, Any]]]:
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
    names another type is refused, since the values would not fit what the property holds (a
    yes/no column, "boolean", fits a string property: it is stored as "true"/"false")."""
    properties = {}
    for key, spec in column_map.properties.items():
        if key in existing and "type" not in spec.model_fields_set:
            spec = spec.model_copy(update={"type": existing[key]})
        elif key in existing and existing[key] != stored_type(spec.type):
            raise ColumnMapError(f"property {key!r} exists as a {existing[key]}, but the column map gives it type {spec.type!r}")
        properties[key] = spec
    return column_map.model_copy(update={"properties": properties})
