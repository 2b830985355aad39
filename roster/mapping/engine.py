"""One entry point over the engines: memory (a mapping a person accepted for these headers), then
the model (when a key is set), then the offline engine, which also fills whatever the others
left out. Every Suggestion says which engine made it."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any, cast

from schemas.rules import CORE_FIELDS, STANDARD_FIELDS

from .models import ExistingProperty, Suggestion
from .offline import suggest_offline
from .openai_engine import ModelUnavailable, OpenAISettings, suggest_openai
from .system_columns import is_error_column, system_column, tools_of

log = logging.getLogger(__name__)
SINGLE_USE = STANDARD_FIELDS
ENGINES = ("auto", "offline", "openai")


@dataclass
class Outcome:
    suggestions: list[Suggestion]
    notes: list[str] = field(default_factory=list)  # why the model was not used, what was dropped


def _slot(s: Suggestion) -> str | None:
    if s.target in SINGLE_USE:
        return s.target
    if s.target == "property" and s.property_key:
        return "property:" + s.property_key
    return None


def fill(primary: list[Suggestion], headers: list[str], offline: list[Suggestion]) -> list[Suggestion]:
    """One suggestion per header: the primary engine's where it answered, else the offline
    engine's, unless that field is taken (then a new property under a free key, or ignore)."""
    by_col = {s.column: s for s in primary}
    taken = {_slot(s) for s in primary} - {None}
    out = []
    for h, off in zip(headers, offline):
        if h in by_col:
            out.append(by_col[h])
            continue
        slot = _slot(off)
        if slot and slot in taken:
            if off.target == "property" and off.is_new_property:
                key = cast(str, off.property_key)  # a new property always has its key
                base, n = key[:45], 2
                while "property:" + key in taken:
                    key, n = f"{base}_{n}", n + 1
                off = replace(off, property_key=key)
                slot = "property:" + key
            else:
                off = replace(
                    off,
                    target="ignore",
                    property_key=None,
                    property_type=None,
                    is_new_property=False,
                    invert=False,
                    confidence=0.3,
                    reason=f"{off.reason}; but {slot.replace('property:', 'property ')} is already "
                    f"taken by another column, so it is left out",
                )
                slot = None
        if slot:
            taken.add(slot)
        out.append(off)
    return out


def from_column_map(
    column_map: dict[str, Any],
    headers: list[str],
    existing: list[ExistingProperty],
    engine: str = "memory",
    reason: str = "the mapping accepted before for these headers",
) -> list[Suggestion]:
    """A column map (a remembered one) as Suggestions; columns it leaves out are "ignore"."""
    types = {p.key: p.type for p in existing}
    by_col: dict[str, Suggestion] = {}

    def put(col: Any, **kw: Any) -> None:
        if isinstance(col, str) and col in headers and col not in by_col:
            kw.setdefault("property_key", None)
            kw.setdefault("property_type", None)
            kw.setdefault("invert", False)
            by_col[col] = Suggestion(
                column=col,
                is_new_property=kw["target"] == "property" and kw["property_key"] not in types,
                confidence=1.0,
                reason=reason,
                engine=engine,
                **kw,
            )

    for f in CORE_FIELDS:
        put(column_map.get(f), target=f)
    u = column_map.get("unsubscribed")
    if isinstance(u, dict):
        put(u.get("column"), target="unsubscribed", invert=bool(u.get("invert")))
    else:
        put(u, target="unsubscribed")
    for key, spec in (column_map.get("properties") or {}).items():
        if isinstance(spec, dict):
            ptype = spec.get("type") or types.get(key, "string")
            if key in types and types[key] != ptype:
                continue  # the property was re-typed since: let the engines decide this column again
            put(spec.get("column"), target="property", property_key=key, property_type=ptype)
    return [
        by_col.get(h)
        or Suggestion(
            column=h,
            target="ignore",
            property_key=None,
            property_type=None,
            is_new_property=False,
            invert=False,
            confidence=1.0,
            reason=f"the reason Roster gave in a failed-rows download; {reason}, which leaves it out"
            if is_error_column(h)
            else "left out of the mapping accepted before for these headers",
            engine=engine,
        )
        for h in headers
    ]


def suggest(
    headers: list[str],
    samples: dict[str, list[str]],
    existing: list[ExistingProperty],
    *,
    engine: str = "auto",
    openai_settings: OpenAISettings | None = None,
    remembered: dict[str, Any] | None = None,
) -> Outcome:
    """Suggestions for every header, in header order.

    engine: "auto" (the model when OPENAI_API_KEY is set, else offline), "openai" (the same, and a
    note says so when it falls back) or "offline" (never the network).
    remembered: a column map accepted before for this set of headers; it wins.
    """
    offline = suggest_offline(headers, samples, existing)
    if remembered:
        mem = from_column_map(remembered, headers, existing)
        return Outcome(mem, ["a mapping accepted before for these headers was used"])
    notes: list[str] = []
    if engine not in ENGINES:
        raise ValueError(f"mapping engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    if engine == "offline":
        return Outcome(offline, notes)
    settings = openai_settings or OpenAISettings.from_env()
    if not settings.available:
        if engine == "openai":
            notes.append("the model was not asked: no OPENAI_API_KEY; the offline engine answered")
        return Outcome(offline, notes)
    try:
        checked = suggest_openai(headers, samples, existing, settings)
    except ModelUnavailable as e:
        log.warning("column mapping: %s; the offline engine answers instead", e)
        notes.append(f"{e}; the offline engine answered instead")
        return Outcome(offline, notes)
    notes += [f"model suggestion for {d['column']!r} dropped: {d['why']}" for d in checked.dropped]
    return Outcome(_keep_bookkeeping_out(fill(checked.suggestions, headers, offline), offline), notes)


def _keep_bookkeeping_out(chosen: list[Suggestion], offline: list[Suggestion]) -> list[Suggestion]:
    """An export tool's bookkeeping column (system_columns.py) that the model made a NEW property
    stays left out, as the offline engine says: a known name is surer than a guess, and a new
    property per Mailchimp id or IP is what people untick by hand. A model's match to an existing
    property or a contact field stands."""
    tools = tools_of([s.column for s in offline])
    return [
        off
        if off.target == "ignore" and s.is_new_property and (system_column(s.column, tools) or is_error_column(s.column))
        else s
        for s, off in zip(chosen, offline)
    ]
